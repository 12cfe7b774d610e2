// The machine word. Shared by the runtime (lib.rs) and the code generator,
// which build.rs compiles by #[path], so the word size is written down once.

/// One machine word / message register.
///
/// ia32 is the only target today; this alias is the single place that fixes the
/// word size (spec §5.1: `L4_Word_t` is 4 bytes). An amd64 port changes this
/// alias; [`WORD_BYTES`] and the generator's struct layouts follow.
pub type Word = u32;

/// Size of a [`Word`] in bytes.
pub const WORD_BYTES: usize = core::mem::size_of::<Word>();
