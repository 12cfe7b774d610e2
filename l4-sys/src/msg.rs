//! A copy of the message registers and a builder, so message contents can be
//! prepared and checked as plain data; only the system call touches the UTCB.

use crate::types::{MapItem, MsgTag, StringItem};
use crate::Word;

/// Number of message registers (MR0..MR63; §1.1).
pub const NUM_MRS: usize = 64;

/// A message: MR0 (the tag) and MR1..MR63.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Message {
    /// MR0.
    pub tag: MsgTag,
    /// MR1..=MR63 at indexes 0..63 (`mr[0]` is MR1).
    pub mr: [Word; NUM_MRS - 1],
}

/// A message that would not fit into the 63 message registers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Overflow;

impl core::fmt::Display for Overflow {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("message exceeds 63 message registers")
    }
}

impl Default for Message {
    fn default() -> Self {
        Message {
            tag: MsgTag(0),
            mr: [0; NUM_MRS - 1],
        }
    }
}

impl Message {
    /// An empty message with `label`.
    pub fn with_label(label: u16) -> Message {
        Message {
            tag: MsgTag::new(label, 0, 0),
            ..Message::default()
        }
    }

    /// The untyped words MR1..MRu.
    pub fn untyped(&self) -> &[Word] {
        &self.mr[..self.tag.untyped() as usize]
    }

    /// The typed words MRu+1..MRu+t (clamped to the register file).
    pub fn typed(&self) -> &[Word] {
        let u = self.tag.untyped() as usize;
        let end = (u + self.tag.typed() as usize).min(NUM_MRS - 1);
        &self.mr[u.min(end)..end]
    }

    /// Append an untyped word; untyped words must come before typed ones.
    pub fn push(&mut self, word: Word) -> Result<&mut Self, Overflow> {
        let (u, t) = (self.tag.untyped(), self.tag.typed());
        if t != 0 || (u + t) as usize >= NUM_MRS - 1 {
            return Err(Overflow);
        }
        self.mr[u as usize] = word;
        self.tag = MsgTag::new(self.tag.label(), u + 1, 0);
        Ok(self)
    }

    fn push_typed(&mut self, words: [Word; 2]) -> Result<&mut Self, Overflow> {
        let (u, t) = (self.tag.untyped(), self.tag.typed());
        let at = (u + t) as usize;
        if at + 2 > NUM_MRS - 1 {
            return Err(Overflow);
        }
        self.mr[at..at + 2].copy_from_slice(&words);
        self.tag = MsgTag::new(self.tag.label(), u, t + 2);
        Ok(self)
    }

    /// Append a map or grant item.
    pub fn push_map(&mut self, item: MapItem) -> Result<&mut Self, Overflow> {
        self.push_typed(item.words())
    }

    /// Append a simple string item.
    pub fn push_string(&mut self, item: StringItem) -> Result<&mut Self, Overflow> {
        self.push_typed(item.words(false))
    }

    /// The first map item among the typed words, if any.
    pub fn map_item(&self) -> Option<MapItem> {
        match self.typed() {
            [a, b, ..] => MapItem::from_words([*a, *b]),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Fpage, Rights};

    #[test]
    fn builder_counts_and_orders_words() {
        let mut m = Message::with_label(0xffa0);
        m.push(1).unwrap().push(2).unwrap();
        let fp = Fpage::new(0x1000, 12, Rights::RWX).unwrap();
        m.push_map(MapItem::map(0x1000, fp)).unwrap();
        assert_eq!(m.tag, MsgTag::new(0xffa0, 2, 2));
        assert_eq!(m.untyped(), &[1, 2]);
        assert_eq!(m.map_item(), Some(MapItem::map(0x1000, fp)));
        // Untyped words cannot follow typed ones.
        assert_eq!(m.push(3).err(), Some(Overflow));
    }

    #[test]
    fn builder_refuses_overflow() {
        let mut m = Message::default();
        for i in 0..63 {
            m.push(i).unwrap();
        }
        assert_eq!(m.push(63).err(), Some(Overflow));
        assert_eq!(m.untyped().len(), 63);
    }

    #[test]
    fn typed_is_clamped_for_hostile_tags() {
        let m = Message {
            tag: MsgTag(0x3f | 0x3f << 6),
            ..Message::default()
        };
        assert_eq!(m.untyped().len(), 63);
        assert!(m.typed().is_empty());
        assert_eq!(m.map_item(), None);
    }
}
