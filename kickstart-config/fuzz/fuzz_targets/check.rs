//! Fuzz target: the menu and description checkers (and the rendering of
//! their findings) must never panic on any input.
#![no_main]

use kickstart_config::host::{check_source, CheckOptions, Format, Input, SourceFile, Style};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let opts = CheckOptions { memory: Some(64 << 20), cpus: Some(2), force: false };
    for input in [Input::Menu(Format::MenuLst), Input::Menu(Format::GrubCfg), Input::Toml] {
        let r = check_source(SourceFile::new("fuzz", text.clone()), input, &opts);
        let _ = r.render(Style::Plain);
    }
});
