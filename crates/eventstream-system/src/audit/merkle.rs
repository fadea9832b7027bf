//! RFC 6962 Merkle tree hashing (unchanged in RFC 9162): leaf and node hashes, roots, inclusion and
//! consistency proofs, their verification, and the compact [`Frontier`] that appends in O(log n).
//!
//! Proof generation works on the stored leaf hashes of a tree (32 bytes each), never on event bytes:
//! one pass of node hashing over the leaves, O(n). Verification follows RFC 9162 §2.1.3.2 and §2.1.4.2.

use sha2::{Digest, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// Why a proof was refused, or cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof between sizes that do not make sense (`from > to`).
    #[error("cannot prove consistency from size {from} to the smaller size {to}")]
    BadSizes {
        /// The older size.
        from: u64,
        /// The newer size.
        to: u64,
    },
    /// The proof has the wrong number of hashes for its index and size.
    #[error("the proof has {got} hashes, {want} expected")]
    WrongLength {
        /// Hashes in the proof.
        got: usize,
        /// Hashes the index and size call for.
        want: usize,
    },
    /// The proof does not lead to the expected root.
    #[error("the proof does not lead to the expected root")]
    RootMismatch,
}

/// `SHA-256(0x00 || bytes)`, the hash of a leaf.
pub fn leaf_hash(bytes: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(bytes);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`, the hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree, `SHA-256()`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two strictly below `n` (`n >= 2`).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// The Merkle tree hash (root) of the tree over `leaves` (leaf hashes, in order).
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The inclusion proof (audit path) of leaf `index` in the tree over `leaves`: sibling hashes from the
/// leaf up to the root's child (RFC 6962 §2.1.1).
///
/// # Errors
/// [`ProofError::IndexOutOfRange`] when `index >= leaves.len()`.
pub fn inclusion_proof(leaves: &[Hash], index: u64) -> Result<Vec<Hash>, ProofError> {
    let size = leaves.len() as u64;
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut out = Vec::new();
    path(leaves, index as usize, &mut out);
    Ok(out)
}

fn path(leaves: &[Hash], m: usize, out: &mut Vec<Hash>) {
    let n = leaves.len();
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path(&leaves[..k], m, out);
        out.push(root(&leaves[k..]));
    } else {
        path(&leaves[k..], m - k, out);
        out.push(root(&leaves[..k]));
    }
}

/// The consistency proof between the tree of the first `from` leaves and the tree over all `leaves`
/// (RFC 6962 §2.1.2). Empty when `from` is 0 or equals the size.
///
/// # Errors
/// [`ProofError::BadSizes`] when `from > leaves.len()`.
pub fn consistency_proof(leaves: &[Hash], from: u64) -> Result<Vec<Hash>, ProofError> {
    let to = leaves.len() as u64;
    if from > to {
        return Err(ProofError::BadSizes { from, to });
    }
    let mut out = Vec::new();
    if from > 0 && from < to {
        subproof(from as usize, leaves, true, &mut out);
    }
    Ok(out)
}

fn subproof(m: usize, leaves: &[Hash], whole: bool, out: &mut Vec<Hash>) {
    let n = leaves.len();
    if m == n {
        if !whole {
            out.push(root(leaves));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, &leaves[..k], whole, out);
        out.push(root(&leaves[k..]));
    } else {
        subproof(m - k, &leaves[k..], false, out);
        out.push(root(&leaves[..k]));
    }
}

/// Number of bits needed for `x` (0 for 0).
fn bit_len(x: u64) -> u32 {
    64 - x.leading_zeros()
}

/// Checks that `leaf` (a leaf hash) is at `index` in the tree of `size` leaves whose root is `root`
/// (RFC 9162 §2.1.3.2).
///
/// # Errors
/// [`ProofError::IndexOutOfRange`], [`ProofError::WrongLength`] or [`ProofError::RootMismatch`].
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let inner = bit_len(index ^ (size - 1)) as usize;
    let border = (index >> inner).count_ones() as usize;
    if proof.len() != inner + border {
        return Err(ProofError::WrongLength { got: proof.len(), want: inner + border });
    }
    let mut seed = *leaf;
    for (i, p) in proof[..inner].iter().enumerate() {
        seed = if (index >> i) & 1 == 0 { node_hash(&seed, p) } else { node_hash(p, &seed) };
    }
    for p in &proof[inner..] {
        seed = node_hash(p, &seed);
    }
    if seed == *root { Ok(()) } else { Err(ProofError::RootMismatch) }
}

/// Checks that the tree of `from` leaves with root `from_root` is a prefix of the tree of `to` leaves with
/// root `to_root` (RFC 9162 §2.1.4.2). Size 0 is a prefix of everything (empty proof; trust on first use);
/// equal sizes need an empty proof and equal roots.
///
/// # Errors
/// [`ProofError::BadSizes`], [`ProofError::WrongLength`] or [`ProofError::RootMismatch`].
pub fn verify_consistency(from: u64, to: u64, from_root: &Hash, to_root: &Hash, proof: &[Hash]) -> Result<(), ProofError> {
    if from > to {
        return Err(ProofError::BadSizes { from, to });
    }
    if from == 0 || from == to {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength { got: proof.len(), want: 0 });
        }
        return if from == 0 || from_root == to_root { Ok(()) } else { Err(ProofError::RootMismatch) };
    }
    if proof.is_empty() {
        return Err(ProofError::WrongLength { got: 0, want: 1 });
    }
    let mut hashes: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if from.is_power_of_two() {
        hashes.push(*from_root);
    }
    hashes.extend_from_slice(proof);
    let (mut fn_, mut sn) = (from - 1, to - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (hashes[0], hashes[0]);
    for c in &hashes[1..] {
        if sn == 0 {
            return Err(ProofError::WrongLength { got: proof.len(), want: proof.len() - 1 });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength { got: proof.len(), want: proof.len() + 1 });
    }
    if fr == *from_root && sr == *to_root { Ok(()) } else { Err(ProofError::RootMismatch) }
}

/// The compact range `[0, size)` of a tree: the roots of its perfect subtrees, largest first (one per set
/// bit of `size`). Appending a leaf costs O(log n) node hashes; the root costs as many.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

impl Frontier {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Leaves in the tree.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut h = leaf;
        let mut s = self.size;
        while s & 1 == 1 {
            if let Some(left) = self.hashes.pop() {
                h = node_hash(&left, &h);
            }
            s >>= 1;
        }
        self.hashes.push(h);
        self.size += 1;
    }

    /// The root of the tree.
    pub fn root(&self) -> Hash {
        let mut it = self.hashes.iter().rev();
        let Some(last) = it.next() else { return empty_root() };
        it.fold(*last, |acc, h| node_hash(h, &acc))
    }

    /// The root the tree would have with `leaf` appended (the frontier is left as it is).
    pub fn root_with(&self, leaf: &Hash) -> Hash {
        let mut next = self.clone();
        next.push(*leaf);
        next.root()
    }

    /// The stored form: the subtree hashes concatenated.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.hashes.concat()
    }

    /// Reads the stored form of a frontier of `size` leaves; `None` when the length does not fit `size`.
    pub fn from_bytes(size: u64, bytes: &[u8]) -> Option<Self> {
        if bytes.len() != size.count_ones() as usize * 32 {
            return None;
        }
        let hashes = bytes.chunks_exact(32).map(|c| c.try_into().unwrap_or([0; 32])).collect();
        Some(Self { size, hashes })
    }
}

#[cfg(test)]
#[path = "merkle_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "merkle_vectors_tests.rs"]
mod vectors;
