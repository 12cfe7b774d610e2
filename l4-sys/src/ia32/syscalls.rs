//! The system calls (§3.1–3.2, ia32 columns).

use crate::kip::{field, Kip};
use crate::types::{Fpage, IpcError, KernelError, MsgTag, ThreadId, Timeouts};
use crate::Word;
use core::arch::asm;
use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

use super::utcb;

/// Where the KIP is mapped and what the KernelInterface trap reported (§2.5).
#[derive(Clone, Copy, Debug)]
pub struct KernelInterface {
    /// Base of the KIP in the caller's space.
    pub kip_base: usize,
    /// API version word.
    pub api_version: Word,
    /// API flags word.
    pub api_flags: Word,
    /// Kernel id word.
    pub kernel_id: Word,
}

/// The KernelInterface "system call": `lock; nop`, decoded by the kernel's #UD handler.
pub fn kernel_interface() -> KernelInterface {
    let (base, version, flags, id): (usize, Word, Word, Word);
    // SAFETY: the kernel recognises the 0xF0 0x90 pattern, skips it and
    // returns the four words; ESI (kernel id) is reserved by LLVM, so it is
    // moved to EDI and restored. Nothing else changes.
    unsafe {
        asm!(
            "push esi",
            ".byte 0xf0, 0x90",
            "mov edi, esi",
            "pop esi",
            out("eax") base,
            out("ecx") version,
            out("edx") flags,
            out("edi") id,
        )
    }
    KernelInterface {
        kip_base: base,
        api_version: version,
        api_flags: flags,
        kernel_id: id,
    }
}

/// Size of the KIP area the kernel maps for initial servers (KipAreaInfo s = 12).
pub const KIP_AREA_BYTES: usize = 4096;

/// The bytes of the KIP page.
pub fn kip_bytes() -> &'static [u8] {
    let base = kernel_interface().kip_base;
    // SAFETY: the kernel maps the KIP area (at least 4 KiB, read-only) into
    // every address space at the address KernelInterface returns, for the
    // life of the space, and never changes the structure after boot.
    unsafe { core::slice::from_raw_parts(base as *const u8, KIP_AREA_BYTES) }
}

/// The KIP, checked.
pub fn kip() -> Kip<'static> {
    match Kip::parse(kip_bytes(), crate::WORD_BYTES) {
        Ok(k) => k,
        // Without a valid KIP no system call can be found: stop loudly.
        Err(e) => {
            use core::fmt::Write;
            let _ = writeln!(super::kdb::Console, "l4-sys: bad KIP: {e}");
            loop {
                super::kdb::enter();
            }
        }
    }
}

macro_rules! entries {
    ($($name:ident = $field:expr),* $(,)?) => {
        $(
            #[doc = concat!("Entry address of the `", stringify!($name), "` stub.")]
            static $name: AtomicU32 = AtomicU32::new(0);
        )*
        /// Read the stub addresses from the KIP (done by the first system call).
        pub fn init() {
            let kip = kip();
            let base = kernel_interface().kip_base as u32;
            $( $name.store(base.wrapping_add(kip.syscall_link($field) as u32), Relaxed); )*
            let khz = kip.cpu0_khz().unwrap_or(0).min(u64::from(u32::MAX)) as u32;
            CLOCK_KHZ.store(khz, Relaxed);
        }
    };
}

entries! {
    ENTRY_IPC = field::IPC,
    ENTRY_LIPC = field::LIPC,
    ENTRY_EXREGS = field::EXCHANGE_REGISTERS,
    ENTRY_THREAD_CONTROL = field::THREAD_CONTROL,
    ENTRY_SPACE_CONTROL = field::SPACE_CONTROL,
    ENTRY_SCHEDULE = field::SCHEDULE,
    ENTRY_THREAD_SWITCH = field::THREAD_SWITCH,
    ENTRY_UNMAP = field::UNMAP,
    ENTRY_SYSTEM_CLOCK = field::SYSTEM_CLOCK,
    ENTRY_MEMORY_CONTROL = field::MEMORY_CONTROL,
}

#[inline(always)]
fn ensure_init() {
    if ENTRY_IPC.load(Relaxed) == 0 {
        init();
    }
}

/// All general registers, in and out of a stub that is not Ipc.
#[derive(Clone, Copy, Default, Debug)]
#[repr(C)]
pub struct Regs {
    /// EAX.
    pub eax: Word,
    /// ECX.
    pub ecx: Word,
    /// EDX.
    pub edx: Word,
    /// EBX.
    pub ebx: Word,
    /// ESI.
    pub esi: Word,
    /// EDI.
    pub edi: Word,
    /// EBP.
    pub ebp: Word,
}

/// Call a stub with every register loaded from `regs`, and store every register back.
///
/// This one routine serves all calls but Ipc: the cost (a few memory moves)
/// is nothing next to a kernel entry, and one audited `asm!` block is easier
/// to trust than ten.
///
/// # Safety
/// `entry` must be a stub address from the KIP, and the call's effect (new
/// mappings, changed threads) must not break what the caller relies on.
unsafe fn raw_call(entry: &AtomicU32, regs: &mut Regs) {
    // SAFETY (for the asm): ESI and EBP are saved and restored around the
    // call; EAX..EDI are declared clobbered; the stub returns with ESP as it
    // was before the `call`, so the pushes are balanced. The block is written
    // through `[eax]`, which the compiler knows because the asm is not `nomem`.
    unsafe {
        asm!(
            "push ebp",
            "push esi",
            "push eax",
            "push dword ptr [ecx]",
            "mov ecx, [eax + 4]",
            "mov edx, [eax + 8]",
            "mov ebx, [eax + 12]",
            "mov esi, [eax + 16]",
            "mov edi, [eax + 20]",
            "mov ebp, [eax + 24]",
            "mov eax, [eax]",
            "call dword ptr [esp]",
            "add esp, 4",
            "xchg eax, [esp]",
            "mov [eax + 4], ecx",
            "mov [eax + 8], edx",
            "mov [eax + 12], ebx",
            "mov [eax + 16], esi",
            "mov [eax + 20], edi",
            "mov [eax + 24], ebp",
            "pop ecx",
            "mov [eax], ecx",
            "pop esi",
            "pop ebp",
            inout("eax") regs as *mut Regs => _,
            inout("ecx") entry.as_ptr() => _,
            out("edx") _,
            out("ebx") _,
            out("edi") _,
        )
    }
}

/// What an IPC returned.
#[derive(Clone, Copy, Debug)]
pub struct IpcResult {
    /// The received tag (or the send tag after a send-only IPC).
    pub tag: MsgTag,
    /// The sender (for receives), possibly a local id for same-space senders.
    pub from: ThreadId,
    /// MR1 as returned in EBX.
    pub mr1: Word,
    /// MR2 as returned in EBP.
    pub mr2: Word,
}

impl IpcResult {
    /// The error, if the IPC failed.
    pub fn error(&self) -> Option<IpcError> {
        self.tag
            .failed()
            .then(|| IpcError::from_code(utcb::error_code()))
    }
}

macro_rules! ipc_stub {
    ($(#[$doc:meta])* $name:ident, $entry:ident) => {
        $(#[$doc])*
        pub unsafe fn $name(to: ThreadId, from_spec: ThreadId, timeouts: Timeouts, tag: MsgTag) -> IpcResult {
            ensure_init();
            let utcb = utcb::mr0_address();
            let (from, tag_out, mr1, mr2): (Word, Word, Word, Word);
            // SAFETY (for the asm): register roles per §3.2: EAX to, EDX from
            // specifier, ECX timeouts, ESI tag (moved in from EBX), EDI UTCB.
            // On return EAX from, ESI tag, EBX MR1, EBP MR2; ESI and EBP are
            // copied into ECX and EDX (both clobbered by the call anyway)
            // before the saved values are restored. The entry is addressed
            // through its symbol, so no register is needed for it.
            unsafe {
                asm!(
                    "push ebp",
                    "push esi",
                    "mov esi, ebx",
                    "call dword ptr [{entry}]",
                    "mov ecx, esi",
                    "mov edx, ebp",
                    "pop esi",
                    "pop ebp",
                    entry = sym $entry,
                    inout("eax") to.0 => from,
                    inout("ebx") tag.0 => mr1,
                    inout("ecx") timeouts.raw() => tag_out,
                    inout("edx") from_spec.0 => mr2,
                    inout("edi") utcb => _,
                )
            }
            IpcResult { tag: MsgTag(tag_out), from: ThreadId(from), mr1, mr2 }
        }
    };
}

ipc_stub!(
    /// The Ipc system call. MR1 and up must already be in the UTCB.
    ///
    /// # Safety
    /// A receive phase may map pages into the caller's space wherever the
    /// acceptor (BR0) allows; the caller must have set an acceptor whose
    /// window cannot cover memory it uses.
    ipc,
    ENTRY_IPC
);

ipc_stub!(
    /// The Lipc system call (an alias of Ipc in Pistachio; §2.4).
    ///
    /// # Safety
    /// As for [`ipc`].
    lipc,
    ENTRY_LIPC
);

fn privileged_result(ok: bool) -> Result<(), KernelError> {
    if ok {
        Ok(())
    } else {
        Err(KernelError::from_code(utcb::error_code()))
    }
}

/// ThreadControl (§3.2, §9.2): create, activate, modify or delete a thread.
///
/// # Safety
/// Must not delete or re-page threads of the caller's own space that the
/// caller relies on.
pub unsafe fn thread_control(
    dest: ThreadId,
    space: ThreadId,
    scheduler: ThreadId,
    pager: ThreadId,
    utcb_location: Word,
) -> Result<(), KernelError> {
    ensure_init();
    let mut r = Regs {
        eax: dest.0,
        esi: space.0,
        edx: scheduler.0,
        ecx: pager.0,
        edi: utcb_location,
        ..Regs::default()
    };
    unsafe { raw_call(&ENTRY_THREAD_CONTROL, &mut r) };
    privileged_result(r.eax == 1)
}

/// SpaceControl (§3.2, §9.2): initialise a new space's KIP and UTCB areas.
/// Returns the old control word.
///
/// # Safety
/// Must not be used on the caller's own space.
pub unsafe fn space_control(
    space: ThreadId,
    control: Word,
    kip_area: Fpage,
    utcb_area: Fpage,
    redirector: ThreadId,
) -> Result<Word, KernelError> {
    ensure_init();
    let mut r = Regs {
        eax: space.0,
        ecx: control,
        edx: kip_area.0,
        esi: utcb_area.0,
        edi: redirector.0,
        ..Regs::default()
    };
    unsafe { raw_call(&ENTRY_SPACE_CONTROL, &mut r) };
    privileged_result(r.eax == 1).map(|()| r.ecx)
}

/// Schedule result states (§11 item 1).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ScheduleResult {
    /// 0 error, 1 dead, 2 inactive, 3 running, 4 pending send, 5 sending, 6 waiting, 7 receiving.
    pub state: Word,
    /// Old time control word (raw microseconds; §11 item 1).
    pub old_time_control: Word,
}

/// Schedule: set priority, time slice, processor, preemption (~0 = unchanged).
pub fn schedule(
    dest: ThreadId,
    time: Word,
    processor: Word,
    prio: Word,
    preemption: Word,
) -> Result<ScheduleResult, KernelError> {
    ensure_init();
    let mut r = Regs {
        eax: dest.0,
        edx: time,
        esi: processor,
        ecx: prio,
        edi: preemption,
        ..Regs::default()
    };
    // SAFETY: Schedule changes scheduling parameters only.
    unsafe { raw_call(&ENTRY_SCHEDULE, &mut r) };
    if r.eax == 0 {
        return Err(KernelError::from_code(utcb::error_code()));
    }
    Ok(ScheduleResult {
        state: r.eax,
        old_time_control: r.edx,
    })
}

/// ThreadSwitch: donate the rest of the time slice (nil: just yield).
pub fn thread_switch(dest: ThreadId) {
    ensure_init();
    let mut r = Regs {
        eax: dest.0,
        ..Regs::default()
    };
    // SAFETY: ThreadSwitch only changes who runs.
    unsafe { raw_call(&ENTRY_THREAD_SWITCH, &mut r) };
}

/// ExchangeRegisters (§3.2). Returns the old values in the same structure.
///
/// # Safety
/// Changing SP/IP/pager of a thread of the caller's space can break it.
pub unsafe fn exchange_registers(regs: &mut ExregsRegs) {
    ensure_init();
    let mut r = Regs {
        eax: regs.dest.0,
        ecx: regs.control,
        edx: regs.sp,
        esi: regs.ip,
        edi: regs.flags,
        ebx: regs.user_handle,
        ebp: regs.pager.0,
    };
    unsafe { raw_call(&ENTRY_EXREGS, &mut r) };
    *regs = ExregsRegs {
        dest: ThreadId(r.eax),
        control: r.ecx,
        sp: r.edx,
        ip: r.esi,
        flags: r.edi,
        user_handle: r.ebx,
        pager: ThreadId(r.ebp),
    };
}

/// ExchangeRegisters arguments and results.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExregsRegs {
    /// In: target; out: its id in the other form (nil on error).
    pub dest: ThreadId,
    /// Control word (§3.2 table); out: old state bits.
    pub control: Word,
    /// Stack pointer.
    pub sp: Word,
    /// Instruction pointer.
    pub ip: Word,
    /// Flags.
    pub flags: Word,
    /// UserDefinedHandle.
    pub user_handle: Word,
    /// Pager.
    pub pager: ThreadId,
}

/// Unmap: revoke rights on the fpages in MR0..=MRk; returns MR0 afterwards.
///
/// # Safety
/// With `flush` set the pages also leave the caller's own space.
pub unsafe fn unmap(fpages_last_mr: u32, flush: bool, mr0: Fpage) -> Fpage {
    ensure_init();
    let mut r = Regs {
        eax: (fpages_last_mr & 0x3f) | ((flush as Word) << 6),
        esi: mr0.0,
        edi: utcb::mr0_address() as Word,
        ..Regs::default()
    };
    unsafe { raw_call(&ENTRY_UNMAP, &mut r) };
    Fpage(r.esi)
}

/// Processor 0's internal frequency (kHz) as the KIP published it.
static CLOCK_KHZ: AtomicU32 = AtomicU32::new(0);

/// SystemClock: microseconds since boot; `None` when the kernel's
/// calibration published a processor frequency below 1 MHz. The ia32 stub
/// divides the TSC by (kHz / 1000), so it would divide by zero (a #DE in
/// the caller); under a heavily loaded emulator the calibration does give
/// such values now and then.
pub fn system_clock() -> Option<u64> {
    ensure_init();
    if CLOCK_KHZ.load(Relaxed) < 1000 {
        return None;
    }
    let mut r = Regs::default();
    // SAFETY: reads the time stamp counter in the stub; no side effects.
    unsafe { raw_call(&ENTRY_SYSTEM_CLOCK, &mut r) };
    Some(((r.edx as u64) << 32) | r.eax as u64)
}

/// The CPU's time-stamp counter. Under QEMU with `-icount shift=0` it counts
/// virtual nanoseconds (one per instruction), which makes it the repeatable
/// clock for measurements; [`system_clock`] divides it by the frequency the
/// kernel calibrated, which under emulation is only approximate.
pub fn rdtsc() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: rdtsc only reads the counter (allowed at user level while
    // CR4.TSD is clear, as Pistachio leaves it).
    unsafe {
        asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags))
    };
    ((hi as u64) << 32) | lo as u64
}
