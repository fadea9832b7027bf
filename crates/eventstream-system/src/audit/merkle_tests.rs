//! RFC 6962 vectors (transparency-dev/merkle `testonly/constants.go` inputs and roots), the RFC's own
//! 7-leaf examples, every proof for sizes up to 64, and mutated proofs that must be refused.

#![allow(clippy::unwrap_used)]

use super::vectors::{LEAVES, ROOTS};
use super::*;

fn leaves() -> Vec<Vec<u8>> {
    LEAVES.iter().map(|h| hex::decode(h).unwrap()).collect()
}

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
