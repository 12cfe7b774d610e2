//! The entry head (`head.S`) and the symbols it shares with Rust.

core::arch::global_asm!(include_str!("head.S"), options(att_syntax));

unsafe extern "C" {
    /// The page directory the head built (1:1 and KBASE halves).
    pub static mut wg_pgdir: [u32; 1024];
    /// How many pages the head prefilled with paging off (`mode=memory`).
    pub static wg_prefilled: u32;
    /// IRQ0 interrupts taken (`mode=irq`), written by `wg_irq0_entry`.
    pub static wg_ticks: u32;
    /// Other interrupts taken, written by `wg_other_entry`.
    pub static wg_unexpected: u32;
    /// The IRQ0 entry (only its address is used).
    pub fn wg_irq0_entry();
    /// The entry for every other vector (only its address is used).
    pub fn wg_other_entry();
    /// The first byte after the image (page aligned).
    pub static __image_end: u8;
}
