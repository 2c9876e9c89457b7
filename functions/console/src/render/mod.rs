//! The widgets' HTML, from what the console read. Plain HTML with inline SVG and
//! `<cwdb-action>` buttons: the dashboard strips JavaScript.

mod charts;
pub mod html;
pub mod nodes;
pub mod operations;
pub mod services;
pub mod tasks;
