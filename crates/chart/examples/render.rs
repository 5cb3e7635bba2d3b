//! `cargo run -p regionstack-chart --example render -- [SET ...]`: prints what the
//! test renderer makes of charts/regionstack, like `helm template --set SET ...`
//! (each argument as Helm's `--set`: `a=b,c={x,y}`), NOTES on stderr.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut values = chart::Values::new();
    for arg in std::env::args().skip(1) {
        values = values.set_arg(&arg);
    }
    let rendered =
        chart::Chart::regionstack()?.render(&chart::Release::new("regionstack", "regionstack-system"), &values)?;
    print!("{}", rendered.to_yaml());
    eprintln!("NOTES:\n{}", rendered.notes);
    Ok(())
}
