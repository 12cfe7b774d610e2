//! Property tests: random messages never panic the generated dispatchers,
//! and whatever they answer is consistent with the request.

mod common;

use common::gen::{iconsole, ilocator, ilogging, iresourcemon, ivmcontrol};
use common::{FakeKernel, Target};
use idl::{Message, Reply, ServerError, Tag, ThreadId, Variant};
use proptest::prelude::*;

/// Every label some dispatcher knows, plus the page-fault range.
fn known_labels() -> Vec<u16> {
    let mut v: Vec<u16> = Vec::new();
    v.extend(ilocator::Op::ALL.iter().map(|o| o.label()));
    v.extend(iconsole::Op::ALL.iter().map(|o| o.label()));
    v.extend(ilogging::Op::ALL.iter().map(|o| o.label()));
    v.extend(iresourcemon::Op::ALL.iter().map(|o| o.label()));
    v.extend(ivmcontrol::Op::ALL.iter().map(|o| o.label()));
    v.extend(0xffe0..=0xffe7);
    v
}

fn check(target: Target, words: &[u32], err: Option<u8>) -> Result<(), TestCaseError> {
    let mut k = FakeKernel::new(target);
    match err {
        Some(0) => k.server.no_reply = true,
        Some(n) => {
            k.server.rm_err =
                iresourcemon::Exception::from_number(n as u16).map(ServerError::Exception);
            k.server.loc_err =
                ilocator::Exception::from_number(n as u16 % 3).map(ServerError::Exception);
        }
        None => {}
    }
    let mut msg = Message::from_words(words);
    let req = msg.tag();
    let r = match target {
        Target::Main => iresourcemon::dispatch(&mut k.server, ThreadId(1), &mut msg),
        Target::VmControl => ivmcontrol::dispatch(&mut k.server, ThreadId(1), &mut msg),
    };
    match r {
        Reply::Rejected(_) => prop_assert!(k.server.calls.is_empty()),
        Reply::Normal => {
            prop_assert_eq!(req.typed(), 0);
            prop_assert_eq!(k.server.calls.len(), 1);
            let tag = msg.tag();
            prop_assert!(tag.is_success_reply());
            prop_assert!(1 + tag.untyped() + tag.typed() <= 64);
        }
        Reply::Exception(n) => {
            prop_assert_eq!(msg.tag(), Tag::new(2 + (n << 8), 0, 0));
            prop_assert!(!msg.tag().is_success_reply());
        }
        Reply::NoReply(_) => prop_assert_eq!(k.server.calls.len(), 1),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 4000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Completely random tags and words.
    #[test]
    fn random_messages_never_panic(
        tag in any::<u32>(),
        words in proptest::collection::vec(any::<u32>(), 63),
        main in any::<bool>(),
        err in proptest::option::of(0u8..14),
    ) {
        let mut all = vec![tag];
        all.extend(words);
        check(if main { Target::Main } else { Target::VmControl }, &all, err)?;
    }

    /// Known labels with random counts, so every decode path is exercised.
    #[test]
    fn known_labels_random_counts(
        label_idx in any::<prop::sample::Index>(),
        u in 0usize..64,
        t in prop_oneof![Just(0usize), 0usize..64],
        flags in 0u32..16,
        words in proptest::collection::vec(any::<u32>(), 63),
        main in any::<bool>(),
        err in proptest::option::of(0u8..14),
    ) {
        let labels = known_labels();
        let label = labels[label_idx.index(labels.len())];
        let mut all = vec![Tag::new(label, u, t).0 | (flags << 12)];
        all.extend(words);
        check(if main { Target::Main } else { Target::VmControl }, &all, err)?;
    }

    /// Well-formed requests for every operation and variant are accepted.
    #[test]
    fn right_counts_are_accepted(
        label_idx in any::<prop::sample::Index>(),
        b in any::<bool>(),
        words in proptest::collection::vec(any::<u32>(), 63),
    ) {
        let v = if b { Variant::B } else { Variant::A };
        let mut ops: Vec<(u16, usize, Target)> = Vec::new();
        ops.extend(ilocator::Op::ALL.iter().map(|o| (o.label(), o.request_untyped(v), Target::Main)));
        ops.extend(iconsole::Op::ALL.iter().map(|o| (o.label(), o.request_untyped(v), Target::Main)));
        ops.extend(ilogging::Op::ALL.iter().map(|o| (o.label(), o.request_untyped(v), Target::Main)));
        ops.extend(iresourcemon::Op::ALL.iter().map(|o| (o.label(), o.request_untyped(v), Target::Main)));
        ops.extend(ivmcontrol::Op::ALL.iter().map(|o| (o.label(), o.request_untyped(v), Target::VmControl)));
        let (label, u, target) = ops[label_idx.index(ops.len())];
        let mut all = vec![Tag::new(label, u, 0).0];
        all.extend(words);
        let mut k = FakeKernel::new(target);
        let mut msg = Message::from_words(&all);
        let r = match target {
            Target::Main => iresourcemon::dispatch(&mut k.server, ThreadId(1), &mut msg),
            Target::VmControl => ivmcontrol::dispatch(&mut k.server, ThreadId(1), &mut msg),
        };
        prop_assert!(!matches!(r, Reply::Rejected(_)), "{:?}", r);
        prop_assert_eq!(k.server.calls.len(), 1);
    }
}
