//! Tables whose slots are addressed by a typed id, so a connection's id cannot be used where
//! a subscription's is meant. A slot is reused once its entry is removed.

use std::marker::PhantomData;

use slab::Slab;

/// An id that names a slot of a [`Table`].
pub trait SlotId: Copy {
    fn from_slot(slot: usize) -> Self;
    fn slot(self) -> usize;
}

/// Declares a `usize` newtype id for table slots.
macro_rules! slot_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(usize);

        impl $crate::shard::table::SlotId for $name {
            fn from_slot(slot: usize) -> Self {
                $name(slot)
            }
            fn slot(self) -> usize {
                self.0
            }
        }
    };
}
pub(crate) use slot_id;

#[derive(Debug)]
pub struct Table<I, T> {
    slab: Slab<T>,
    id: PhantomData<I>,
}

impl<I, T> Default for Table<I, T> {
    fn default() -> Self {
        Table {
            slab: Slab::new(),
            id: PhantomData,
        }
    }
}

impl<I: SlotId, T> Table<I, T> {
    pub fn insert(&mut self, value: T) -> I {
        I::from_slot(self.slab.insert(value))
    }

    /// The id the next `insert` returns.
    pub fn vacant_id(&self) -> I {
        I::from_slot(self.slab.vacant_key())
    }

    pub fn remove(&mut self, id: I) -> T {
        self.slab.remove(id.slot())
    }

    pub fn contains(&self, id: I) -> bool {
        self.slab.contains(id.slot())
    }

    pub fn get(&self, id: I) -> Option<&T> {
        self.slab.get(id.slot())
    }

    pub fn get_mut(&mut self, id: I) -> Option<&mut T> {
        self.slab.get_mut(id.slot())
    }

    pub fn iter(&self) -> impl Iterator<Item = (I, &T)> + Clone {
        self.slab.iter().map(|(i, v)| (I::from_slot(i), v))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (I, &mut T)> {
        self.slab.iter_mut().map(|(i, v)| (I::from_slot(i), v))
    }

    pub fn len(&self) -> usize {
        self.slab.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slab.is_empty()
    }
}

impl<I: SlotId, T> std::ops::Index<I> for Table<I, T> {
    type Output = T;
    fn index(&self, id: I) -> &T {
        &self.slab[id.slot()]
    }
}

impl<I: SlotId, T> std::ops::IndexMut<I> for Table<I, T> {
    fn index_mut(&mut self, id: I) -> &mut T {
        &mut self.slab[id.slot()]
    }
}
