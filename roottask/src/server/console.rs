//! IConsole and ILogging: guest console output, the (empty) console input,
//! and the log regions this kernel does not have.

use idl::{Fpage, MapItem, ServerError, ThreadId, Word};

use super::{Monitor, Platform};
use crate::ipc::{iconsole, ilogging};

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
        self.vm_of(
            caller,
            "get_chars",
            iconsole::Exception::UnknownClient.into(),
        )?;
        // No console input is routed to guests: always an empty stream (§7.5).
        Ok(iconsole::Stream::zeroed())
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
