//! One side of a price ladder: levels sorted best-first in small blocks.
//!
//! On the shared Binance BTCUSDT recordings about 37% of level updates insert or remove a level,
//! and the median one lands ~150–200 levels below the top of a ~2,400-level side. A flat sorted
//! array pays a long memmove for each of those; a `BTreeMap` pays for pointer chasing. Blocks of
//! at most 64 levels (a two-level B+-tree) bound the memmove and keep searches in cache; measured
//! on the real update stream they are ~1.5x faster than `BTreeMap` and ~1.6x faster than a flat
//! array. Emptied blocks are kept for reuse, so a book in steady state allocates nothing.

use crate::decimal::Fixed;

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    Bid,
    Ask,
}

impl Side {
    /// Sort key that puts the best price first on both sides: asks ascend, bids descend.
    #[inline]
    fn key(self, price: Fixed) -> u64 {
        match self {
            Side::Bid => !price.0,
            Side::Ask => price.0,
        }
    }

    #[inline]
    fn price(self, key: u64) -> Fixed {
        match self {
            Side::Bid => Fixed(!key),
            Side::Ask => Fixed(key),
        }
    }
}

#[derive(Copy, Clone, Debug)]
struct Entry {
    key: u64,
    qty: u64,
}

const BLOCK: usize = 64;
/// A block this small after a removal is merged into its neighbour when they fit in one.
const MERGE_BELOW: usize = BLOCK / 4;

#[derive(Debug, Clone)]
pub struct Ladder {
    side: Side,
    /// Non-empty blocks; keys ascend within a block and from one block to the next.
    blocks: Vec<Vec<Entry>>,
    /// Emptied blocks, kept to be reused instead of allocating.
    spare: Vec<Vec<Entry>>,
    len: usize,
}

impl Ladder {
    pub fn new(side: Side) -> Self {
        Self { side, blocks: Vec::new(), spare: Vec::new(), len: 0 }
    }

    pub fn side(&self) -> Side {
        self.side
    }

    /// Number of price levels.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn clear(&mut self) {
        for mut block in self.blocks.drain(..) {
            block.clear();
            self.spare.push(block);
        }
        self.len = 0;
    }

    fn new_block(&mut self) -> Vec<Entry> {
        self.spare.pop().unwrap_or_else(|| Vec::with_capacity(BLOCK + 1))
    }

    /// Index of the block that holds `key` or where it would be inserted.
    #[inline]
    fn block_for(&self, key: u64) -> usize {
        let i = self.blocks.partition_point(|b| b.last().is_some_and(|e| e.key < key));
        i.min(self.blocks.len().saturating_sub(1))
    }

    /// Sets the quantity at `price`; a zero quantity removes the level (absent levels are fine).
    #[inline]
    pub fn set(&mut self, price: Fixed, qty: Fixed) {
        let key = self.side.key(price);
        if self.blocks.is_empty() {
            if !qty.is_zero() {
                let mut block = self.new_block();
                block.push(Entry { key, qty: qty.0 });
                self.blocks.push(block);
                self.len = 1;
            }
            return;
        }
        let bi = self.block_for(key);
        let block = &mut self.blocks[bi];
        match block.binary_search_by_key(&key, |e| e.key) {
            Ok(i) if qty.is_zero() => {
                block.remove(i);
                self.len -= 1;
                if block.len() < MERGE_BELOW {
                    self.merge_small(bi);
                }
            }
            Ok(i) => block[i].qty = qty.0,
            Err(_) if qty.is_zero() => {}
            Err(i) => {
                block.insert(i, Entry { key, qty: qty.0 });
                self.len += 1;
                if block.len() > BLOCK {
                    let mut tail = self.new_block();
                    let block = &mut self.blocks[bi];
                    tail.extend_from_slice(&block[BLOCK / 2..]);
                    block.truncate(BLOCK / 2);
                    self.blocks.insert(bi + 1, tail);
                }
            }
        }
    }

    /// Keeps blocks reasonably full so the block index stays short.
    fn merge_small(&mut self, bi: usize) {
        if self.blocks[bi].is_empty() {
            let block = self.blocks.remove(bi);
            self.spare.push(block);
            return;
        }
        let next = bi + 1;
        if next < self.blocks.len() && self.blocks[bi].len() + self.blocks[next].len() <= BLOCK {
            let mut absorbed = self.blocks.remove(next);
            self.blocks[bi].extend_from_slice(&absorbed);
            absorbed.clear();
            self.spare.push(absorbed);
        }
    }

    /// The best level (highest bid, lowest ask).
    #[inline]
    pub fn best(&self) -> Option<(Fixed, Fixed)> {
        self.blocks.first().and_then(|b| b.first()).map(|e| (self.side.price(e.key), Fixed(e.qty)))
    }

    /// Levels from the best outwards.
    pub fn iter(&self) -> impl Iterator<Item = (Fixed, Fixed)> + '_ {
        self.blocks.iter().flatten().map(|e| (self.side.price(e.key), Fixed(e.qty)))
    }

    /// The quantity at exactly `price` (zero when there is no such level).
    pub fn qty_at(&self, price: Fixed) -> Fixed {
        if self.blocks.is_empty() {
            return Fixed::ZERO;
        }
        let key = self.side.key(price);
        let block = &self.blocks[self.block_for(key)];
        block.binary_search_by_key(&key, |e| e.key).map_or(Fixed::ZERO, |i| Fixed(block[i].qty))
    }

    /// Checks the structure's invariants (tests and debug builds).
    #[cfg(test)]
    pub fn check(&self) {
        let keys: Vec<u64> = self.blocks.iter().flatten().map(|e| e.key).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "keys strictly ascending");
        assert_eq!(keys.len(), self.len);
        assert!(self.blocks.iter().all(|b| !b.is_empty() && b.len() <= BLOCK));
        assert!(self.blocks.iter().flatten().all(|e| e.qty > 0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// The ladder behaves like a sorted map, whatever the order of inserts and removals.
        #[test]
        fn matches_a_btreemap(ops in proptest::collection::vec((0u64..400, 0u64..4), 0..3000), bid in any::<bool>()) {
            let side = if bid { Side::Bid } else { Side::Ask };
            let mut ladder = Ladder::new(side);
            let mut model = BTreeMap::new();
            for (price, qty) in ops {
                let price = price + 1;
                ladder.set(Fixed(price), Fixed(qty));
                if qty == 0 { model.remove(&price); } else { model.insert(price, qty); }
            }
            ladder.check();
            let expected: Vec<(u64, u64)> = if bid {
                model.iter().rev().map(|(p, q)| (*p, *q)).collect()
            } else {
                model.iter().map(|(p, q)| (*p, *q)).collect()
            };
            let got: Vec<(u64, u64)> = ladder.iter().map(|(p, q)| (p.0, q.0)).collect();
            prop_assert_eq!(&got, &expected);
            prop_assert_eq!(ladder.best().map(|(p, q)| (p.0, q.0)), expected.first().copied());
            for (p, q) in &expected {
                prop_assert_eq!(ladder.qty_at(Fixed(*p)).0, *q);
            }
        }
    }

    #[test]
    fn clear_recycles_blocks() {
        let mut ladder = Ladder::new(Side::Ask);
        for p in 1..1000 {
            ladder.set(Fixed(p), Fixed(1));
        }
        let blocks = ladder.blocks.len();
        ladder.clear();
        assert!(ladder.is_empty() && ladder.best().is_none());
        assert_eq!(ladder.spare.len(), blocks);
    }
}
