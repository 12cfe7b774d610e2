//! ILocator: who serves which interface. Only a VM's own threads may be
//! registered, and IVMControl's id belongs to the monitor.

use idl::{ServerError, ThreadId};

use super::{Monitor, Platform, IVMCONTROL_GUID, LOCATOR_SLOTS};
use crate::ipc::ilocator;

impl<P: Platform> ilocator::Server for Monitor<P> {
    fn query_interface(
        &mut self,
        _caller: ThreadId,
        guid: ilocator::Guid,
    ) -> Result<ThreadId, ServerError<ilocator::Exception>> {
        self.stats.requests += 1;
        match self.locator.get(guid as usize) {
            Some(tid) if tid.0 != 0 => Ok(*tid),
            _ => Err(ServerError::Exception(
                ilocator::Exception::UnknownInterface,
            )),
        }
    }

    fn register_interface(
        &mut self,
        caller: ThreadId,
        guid: ilocator::Guid,
        tid: ThreadId,
    ) -> Result<(), ServerError<ilocator::Exception>> {
        self.stats.requests += 1;
        let slot = self.vm_of(
            caller,
            "register_interface",
            ilocator::Exception::NoPermission.into(),
        )?;
        let index = guid as usize;
        if index >= LOCATOR_SLOTS || index == IVMCONTROL_GUID {
            return Err(self.refuse(
                slot,
                ilocator::Exception::InvalidGuidFormat.into(),
                format_args!("register_interface: guid {guid} is not a guest interface id"),
            ));
        }
        if self.caller_vm(tid) != Some(slot) {
            return Err(self.refuse(
                slot,
                ilocator::Exception::NoPermission.into(),
                format_args!(
                    "register_interface: {:#x} is not a thread of this VM",
                    tid.0
                ),
            ));
        }
        self.locator[index] = tid;
        Ok(())
    }
}
