//! IConsole and ILogging: guest console output, console input (focus
//! keys, `console_rx`, `get_chars`; the rules are in
//! [`crate::console_input`]), and the log regions this kernel does not have.

use idl::{Fpage, MapItem, ServerError, ThreadId, Word};

use super::{Monitor, Platform};
use crate::console_input::{rx_slot, Effect, RX_RAW_BYTES};
use crate::ipc::{iconsole, ilogging};
use crate::vm::shared::offset::CONSOLE_RX;
use crate::vm::threads::MAX_VM;

impl<P: Platform> iconsole::Server for Monitor<P> {
    fn put_chars(
        &mut self,
        caller: ThreadId,
        _handle: iconsole::Handle,
        stream: &iconsole::Stream,
    ) -> Result<(), ServerError<iconsole::Exception>> {
        self.stats.requests += 1;
        let slot = self.vm_of(
            caller,
            "put_chars",
            iconsole::Exception::UnknownClient.into(),
        )?;
        // Printed at once, bytes as they came (§7.5; issue 10.6).
        let n = (stream.len as usize).min(stream.raw.len());
        let bytes = &stream.raw[..n];
        self.platform.guest_output(slot, bytes);
        // Keep the unfinished last line (a prompt), for a focus switch.
        let vm = self.vms[slot].as_mut().expect("vm_of checked the slot");
        let tail = match bytes.iter().rposition(|b| *b == b'\n') {
            Some(i) => {
                vm.line.clear();
                &bytes[i + 1..]
            }
            None => bytes,
        };
        for &b in tail {
            if vm.line.push(b).is_err() {
                break;
            }
        }
        Ok(())
    }

    fn get_chars(
        &mut self,
        caller: ThreadId,
        _handle: iconsole::Handle,
    ) -> Result<iconsole::Stream, ServerError<iconsole::Exception>> {
        self.stats.requests += 1;
        let slot = self.vm_of(
            caller,
            "get_chars",
            iconsole::Exception::UnknownClient.into(),
        )?;
        // What was typed while the VM had the focus, oldest first (the
        // original always answers 0 bytes, §7.5).
        let mut stream = iconsole::Stream::zeroed();
        let n = self.input.take(slot, &mut stream.raw);
        stream.len = n as u32;
        // The queue has room again: say now what a full queue cost.
        self.console_report_drops();
        Ok(stream)
    }
}

impl<P: Platform> Monitor<P> {
    /// One byte from the serial console: a focus key, or input for the
    /// focused VM.
    pub fn console_byte(&mut self, byte: u8) {
        let vms = &self.vms;
        let has_vm = |s: usize| vms.get(s).is_some_and(Option::is_some);
        match self.input.key(byte, &has_vm) {
            Effect::None | Effect::NoVm => {}
            Effect::Focus(slot) => self.show_focus(slot),
            Effect::NoSuchVm { asked, stays: 0 } => self
                .platform
                .console_notice(format_args!("---- No VM {asked}, no focus ---")),
            Effect::NoSuchVm { asked, stays } => self.platform.console_notice(format_args!(
                "---- No VM {asked}, focus stays on VM {stays} ---"
            )),
            Effect::NoVmToFocus => self
                .platform
                .console_notice(format_args!("---- No VM to focus ---")),
            Effect::Silent(silent) => {
                let what = if silent { "Silent" } else { "Verbose" };
                self.platform
                    .console_notice(format_args!("---- {what} Console ---"));
                self.platform.set_silent(silent);
            }
            Effect::Debugger => self.platform.enter_debugger(),
        }
    }

    /// The focus line (as the original's), then the VM's unfinished last
    /// line (a prompt), so the user sees where typing continues.
    fn show_focus(&mut self, slot: usize) {
        self.platform
            .console_notice(format_args!("---- VM Focus {slot} ---"));
        if let Some(vm) = self.vms[slot].as_ref() {
            if !vm.line.is_empty() {
                let line = vm.line.clone();
                self.platform.guest_output(slot, &line);
            }
        }
    }

    /// Push queued input into the `console_rx` of every VM whose stream is
    /// empty (one byte each, see [`crate::console_input`]).
    pub fn console_pump(&mut self) {
        for slot in 1..MAX_VM {
            let Some(base) = self.vms[slot].as_ref().map(|v| v.shared_haddr) else {
                continue;
            };
            if self.input.queued(slot) == 0 {
                continue;
            }
            let rx = base + CONSOLE_RX as u64;
            let len_at = rx + RX_RAW_BYTES as u64;
            let len = self.platform.load_word(len_at);
            let Some((index, new_len)) = rx_slot(len) else {
                continue;
            };
            if let Some(b) = self.input.next_for_rx(slot, len) {
                self.platform.store_byte(rx + index as u64, b);
                self.platform.store_word(len_at, new_len);
            }
        }
    }

    /// Log the input dropped since the last report (queues full). The
    /// runtime calls it when the serial line is quiet; `get_chars` when it
    /// has made room in a queue.
    pub fn console_report_drops(&mut self) {
        let platform = &mut self.platform;
        self.input.report_drops(|slot, new, total| {
            platform.log(format_args!(
                "console: vm {slot}: {new} bytes of input dropped (buffer full; {total} in all)"
            ))
        });
    }
}

/// Pistachio without its `logging` feature has no log regions: both calls
/// answer the nil item, which the original sends for out-of-range CPUs
/// (§7.5), to callers of a VM.
impl<P: Platform> ilogging::Server for Monitor<P> {
    fn request_log_control_regs(
        &mut self,
        caller: ThreadId,
        _cpu: Word,
    ) -> Result<MapItem, ServerError<ilogging::Exception>> {
        self.no_log_region(caller, "request_log_control_regs")
    }

    fn request_logfiles(
        &mut self,
        caller: ThreadId,
        _cpu: Word,
    ) -> Result<MapItem, ServerError<ilogging::Exception>> {
        self.no_log_region(caller, "request_logfiles")
    }
}

impl<P: Platform> Monitor<P> {
    fn no_log_region(
        &mut self,
        caller: ThreadId,
        op: &str,
    ) -> Result<MapItem, ServerError<ilogging::Exception>> {
        self.stats.requests += 1;
        self.vm_of(caller, op, ServerError::NoReply)?;
        Ok(MapItem::map(0, Fpage::NIL))
    }
}
