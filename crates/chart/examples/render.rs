//! `cargo run -p regionstack-chart --example render -- [name=value ...]`: prints what
//! the test renderer makes of charts/regionstack (like `helm template`), NOTES last.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut values = chart::Values::new();
    for arg in std::env::args().skip(1) {
        let (path, value) = arg.split_once('=').ok_or("arguments are path=value, like --set")?;
        values = values.set(path, value);
    }
    let rendered =
        chart::Chart::regionstack()?.render(&chart::Release::new("regionstack", "regionstack-system"), &values)?;
    print!("{}", rendered.to_yaml());
    eprintln!("NOTES:\n{}", rendered.notes);
    Ok(())
}
