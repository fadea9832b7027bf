//! RFC 6962 vectors (transparency-dev/merkle `testonly/constants.go` inputs and roots), the RFC's own
//! 7-leaf examples, every proof for sizes up to 64, and mutated proofs that must be refused.

#![allow(clippy::unwrap_used)]

use super::*;

fn leaves() -> Vec<Vec<u8>> {
    ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
        .iter()
        .map(|h| hex::decode(h).unwrap())
        .collect()
}

/// The published roots for sizes 1..=8 (reproduced with an independent 10-line Python MTH).
const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

fn hashes(n: usize) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(format!("leaf {i}").as_bytes())).collect()
}

#[test]
fn roots_match_the_published_vectors() {
    let l: Vec<Hash> = leaves().iter().map(|b| leaf_hash(b)).collect();
    assert_eq!(hex::encode(empty_root()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    for n in 1..=8 {
        assert_eq!(hex::encode(root(&l[..n])), ROOTS[n - 1], "size {n}");
        let mut f = Frontier::new();
        l[..n].iter().for_each(|h| f.push(*h));
        assert_eq!(hex::encode(f.root()), ROOTS[n - 1], "frontier size {n}");
    }
}

#[test]
fn proofs_have_the_shape_of_the_rfc_examples() {
    // RFC 6962 §2.1.3 with 7 leaves d0..d6. Here a..g are the leaf hashes, h = (a,b), i = (c,d),
    // j = (e,f), k = (j,g), ll = (h,i); the RFC names these g, h, i, l, k and the seventh leaf j.
    let l = hashes(7);
    let (a, b, c, d, g) = (l[0], l[1], l[2], l[3], l[6]);
    let h = node_hash(&a, &b);
    let i = node_hash(&c, &d);
    let j = node_hash(&l[4], &l[5]);
    let k = node_hash(&j, &g);
    let ll = node_hash(&h, &i);
    assert_eq!(inclusion_proof(&l, 0).unwrap(), vec![b, i, k]);
    assert_eq!(inclusion_proof(&l, 6).unwrap(), vec![j, ll]);
    assert_eq!(consistency_proof(&l, 3).unwrap(), vec![c, d, h, k]);
    assert_eq!(consistency_proof(&l, 4).unwrap(), vec![k]);
    assert_eq!(consistency_proof(&l, 6).unwrap(), vec![j, g, ll]);
    assert_eq!(root(&l), node_hash(&ll, &k));
}

#[test]
fn every_proof_up_to_64_leaves_verifies() {
    let all = hashes(64);
    for n in 1..=64usize {
        let tree = &all[..n];
        let r = root(tree);
        for m in 0..n {
            let p = inclusion_proof(tree, m as u64).unwrap();
            verify_inclusion(m as u64, n as u64, &tree[m], &p, &r).unwrap();
        }
        for m in 0..=n {
            let p = consistency_proof(tree, m as u64).unwrap();
            verify_consistency(m as u64, n as u64, &root(&tree[..m]), &r, &p).unwrap_or_else(|e| panic!("{m} -> {n}: {e}"));
        }
    }
}

fn flip(h: &mut Hash, bit: usize) {
    h[bit / 8 % 32] ^= 1 << (bit % 8);
}

#[test]
fn mutated_inclusion_proofs_are_refused() {
    let all = hashes(64);
    for n in 1..=64usize {
        let tree = &all[..n];
        let r = root(tree);
        for m in 0..n {
            let (mu, nu) = (m as u64, n as u64);
            let p = inclusion_proof(tree, mu).unwrap();
            for (x, _) in p.iter().enumerate() {
                let mut q = p.clone();
                flip(&mut q[x], x * 7 + m);
                assert!(verify_inclusion(mu, nu, &tree[m], &q, &r).is_err(), "flipped bit {n}/{m}/{x}");
            }
            let mut longer = p.clone();
            longer.push(tree[0]);
            assert!(verify_inclusion(mu, nu, &tree[m], &longer, &r).is_err(), "extra hash {n}/{m}");
            let mut garbage = vec![tree[0]];
            garbage.extend_from_slice(&p);
            assert!(verify_inclusion(mu, nu, &tree[m], &garbage, &r).is_err(), "preceding garbage {n}/{m}");
            if !p.is_empty() {
                assert!(verify_inclusion(mu, nu, &tree[m], &p[..p.len() - 1], &r).is_err(), "missing hash {n}/{m}");
            }
            if n > 1 {
                let other = (m + 1) % n;
                assert!(verify_inclusion(other as u64, nu, &tree[m], &p, &r).is_err(), "wrong index {n}/{m}");
                assert!(verify_inclusion(mu, nu, &tree[other], &p, &r).is_err(), "wrong leaf {n}/{m}");
            }
            // A wrong size changes the path's shape, or leads to another root (sizes are bound to roots
            // by the checkpoint).
            if n < 64 && inclusion_proof(&all[..=n], mu).unwrap().len() != p.len() {
                assert!(verify_inclusion(mu, nu + 1, &tree[m], &p, &r).is_err(), "wrong size {n}/{m}");
            }
            if n < 64 {
                let bigger = &all[..=n];
                assert!(verify_inclusion(mu, nu + 1, &tree[m], &p, &root(bigger)).is_err(), "proof of a smaller tree {n}/{m}");
            }
            assert!(verify_inclusion(nu, nu, &tree[m], &p, &r).is_err(), "index = size {n}/{m}");
        }
    }
}

#[test]
fn mutated_consistency_proofs_are_refused() {
    let all = hashes(64);
    for n in 2..=64usize {
        let tree = &all[..n];
        let r = root(tree);
        for m in 1..n {
            let (mu, nu) = (m as u64, n as u64);
            let rm = root(&tree[..m]);
            let p = consistency_proof(tree, mu).unwrap();
            for x in 0..p.len() {
                let mut q = p.clone();
                flip(&mut q[x], x * 5 + m);
                assert!(verify_consistency(mu, nu, &rm, &r, &q).is_err(), "flipped bit {m}->{n}/{x}");
            }
            let mut longer = p.clone();
            longer.push(tree[0]);
            assert!(verify_consistency(mu, nu, &rm, &r, &longer).is_err(), "extra hash {m}->{n}");
            assert!(verify_consistency(mu, nu, &rm, &r, &p[..p.len() - 1]).is_err(), "missing hash {m}->{n}");
            if m + 1 < n {
                assert!(verify_consistency(mu + 1, nu, &rm, &r, &p).is_err(), "wrong from {m}->{n}");
            }
            if n < 64 {
                assert!(verify_consistency(mu, nu + 1, &rm, &root(&all[..=n]), &p).is_err(), "wrong to {m}->{n}");
            }
            assert!(verify_consistency(mu, nu, &r, &r, &p).is_err(), "wrong old root {m}->{n}");
        }
        assert!(verify_consistency(n as u64, n as u64, &r, &all[0], &[]).is_err(), "equal sizes, other root");
        assert!(verify_consistency(n as u64 + 1, n as u64, &r, &r, &[]).is_err(), "from > to");
    }
}

#[test]
fn frontier_round_trips_through_its_stored_form() {
    let all = hashes(100);
    let mut f = Frontier::new();
    for (n, h) in all.iter().enumerate() {
        assert_eq!(f.root_with(h), root(&all[..=n]));
        f.push(*h);
        let back = Frontier::from_bytes(f.size(), &f.to_bytes()).unwrap();
        assert_eq!(back, f);
        assert_eq!(back.root(), root(&all[..=n]));
    }
    assert!(Frontier::from_bytes(3, &[0; 32]).is_none());
}
