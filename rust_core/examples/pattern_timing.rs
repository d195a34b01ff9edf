use tradecore_core::patterns::{PatternEngine, Settings};
fn main() {
    let n = 1_000_000;
    let mut o = vec![0.0; n];
    let mut h = o.clone();
    let mut l = o.clone();
    let mut c = o.clone();
    let mut p = 100.0f64;
    for k in 0..n {
        let x = ((k * 7919) % 13) as f64 - 6.0;
        o[k] = p;
        c[k] = (p + x).max(1.0);
        h[k] = o[k].max(c[k]) + 1.0;
        l[k] = o[k].min(c[k]) - 0.5;
        p = c[k];
    }
    for names in [vec![], vec!["CDLENGULFING"], vec!["CDLDOJI"]] {
        let mut e = PatternEngine::new(Some(&names), &Settings::default()).unwrap();
        let mut out = vec![0; n * names.len()];
        let mut best = f64::MAX;
        for _ in 0..10 {
            let t = std::time::Instant::now();
            e.run(&o, &h, &l, &c, None, &mut out).unwrap();
            best = best.min(t.elapsed().as_nanos() as f64 / n as f64);
        }
        println!("{names:?} {best:.1} ns/bar");
    }
}
