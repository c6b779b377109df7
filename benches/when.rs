//! Windows resolved per second on typical customer turns.
//! Run: `cargo bench --bench when` (prints windows/s; no framework needed).

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use chrono::DateTime;
use chrono_tz::Tz;
use handoffd::interpret::when::{BusinessHours, TimeResolver, WindowTurn};
use handoffd_contract::conversation::Speaker;

const TURNS: &[&str] = &[
    "1.28 is a bit above my budget. Is the price negotiable? Can I do a site visit on Saturday morning?",
    "Theek hai. Abhi detail mein baat nahi ho payegi. Kal shaam 6 baje ke baad call karna, tab aaram se baat karte hain.",
    "Hola, quisiera una cita de limpieza dental para mí y para mi hijo de 8 años. ¿Tienen algo el martes por la mañana?",
    "Yes. I'm at work till late, call me tonight after 9. I'm free till 11.",
    "Oi, agora estou muito ocupada, não consigo falar.",
    "I'd prefer Dr. Rana. It's not urgent, any day next week is fine. How much is the consultation?",
    "Not sure. Just call me later. Bye.",
    "Pode ser semana que vem, depois das 18h?",
];

fn main() {
    let vocabulary = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/vocabulary");
    let resolver = TimeResolver::load(&vocabulary).expect("the shipped vocabulary loads");
    let hours = BusinessHours::parse(
        &[("mon", "09:30-19:30"), ("tue", "09:30-19:30"), ("wed", "09:30-19:30"), ("sat", "10:00-18:00")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
    .unwrap();
    let now = DateTime::parse_from_rfc3339("2026-06-09T18:25:00+05:30").unwrap();
    let tz: Tz = "Asia/Kolkata".parse().unwrap();
    let turns: Vec<[WindowTurn<'_>; 1]> =
        TURNS.iter().map(|text| [WindowTurn { index: 0, from: Speaker::Customer, text }]).collect();
    let rounds: usize = std::env::var("WHEN_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(20_000);
    let started = Instant::now();
    let mut found = 0usize;
    for _ in 0..rounds {
        for turn in &turns {
            found += usize::from(black_box(resolver.requested_window(black_box(turn), now, tz, &hours)).is_some());
        }
    }
    let elapsed = started.elapsed();
    let resolved = rounds * turns.len();
    println!(
        "when: {resolved} turns in {:.2?} = {:.0} windows/s ({found} with a window)",
        elapsed,
        resolved as f64 / elapsed.as_secs_f64()
    );
}
