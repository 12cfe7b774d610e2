//! Fuzz target: the parser and planner must never panic on any input.
#![no_main]

use kickstart_config::options::VmOptions;
use kickstart_config::plan::{plan, ModuleInput};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = core::str::from_utf8(data).unwrap_or("");
    let _ = VmOptions::parse(text);
    let _ = kickstart_config::parse_monitor(text);
    // Split into module lines and use the bytes as module heads.
    let lines: Vec<&str> = text.split('\n').take(40).collect();
    let mods: Vec<ModuleInput<'_>> = lines.iter().map(|l| ModuleInput { cmdline: l, head: data, size: data.len() }).collect();
    let _ = plan(&mods);
});
