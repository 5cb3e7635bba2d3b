//! The application's rows: deterministic generated data and the multi-row INSERT
//! load every scenario measures.

#[allow(clippy::wildcard_imports)] // the bench's imports and constants
use super::*;

/// splitmix64: deterministic, dependency-free data.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1].
    pub(crate) fn unit(&mut self) -> f64 {
        f64::from(u32::try_from(self.next() >> 32).expect("32 bits")) / f64::from(u32::MAX)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One row of the realistic telemetry table.
#[derive(Clone)]
pub(crate) struct Row {
    ts: SystemTime,
    device_id: String,
    user_id: Option<String>,
    email: String,
    client_ip: IpAddr,
    latitude: f64,
    longitude: f64,
    firmware: String,
    temperature: f64,
}

pub(crate) fn make_rows(rng: &mut Rng, n: usize, first: u64) -> Vec<Row> {
    let base = SystemTime::now();
    (0..n as u64)
        .map(|i| {
            let user = rng.below(20_000);
            let client_ip = if rng.below(10) == 0 {
                let bits = (u128::from(0x2001_0db8_u32) << 96) | u128::from(rng.next());
                IpAddr::V6(Ipv6Addr::from(bits))
            } else {
                IpAddr::V4(Ipv4Addr::from(u32::try_from(rng.next() >> 32).expect("32 bits")))
            };
            Row {
                ts: base + Duration::from_millis(first + i),
                device_id: format!("device-{:06}", rng.below(50_000)),
                user_id: (rng.below(20) != 0).then(|| format!("user-{user}")),
                email: format!("user{user}@example.com"),
                client_ip,
                latitude: rng.unit() * 180.0 - 90.0,
                longitude: rng.unit() * 360.0 - 180.0,
                firmware: format!("{}.{}.{}", 1 + rng.below(3), rng.below(10), rng.below(30)),
                temperature: 15.0 + rng.unit() * 20.0,
            }
        })
        .collect()
}

/// `INSERT` of `rows` rows, with `sent_at` as a tenth column when asked.
pub(crate) fn insert_sql(rows: usize, sent_at: bool) -> String {
    let width = if sent_at { 10 } else { 9 };
    let values = (0..rows)
        .map(|r| {
            let params = (1..=width).map(|c| format!("${}", r * width + c)).collect::<Vec<_>>().join(", ");
            format!("({params})")
        })
        .collect::<Vec<_>>()
        .join(", ");
    let extra = if sent_at { ", sent_at" } else { "" };
    format!("INSERT INTO device_metrics ({COLUMNS}{extra}) VALUES {values}")
}

pub(crate) fn params<'a>(rows: &'a [Row], sent_at: Option<&'a SystemTime>) -> Vec<&'a (dyn ToSql + Sync)> {
    let mut out: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(rows.len() * 10);
    for r in rows {
        out.extend([
            &r.ts as &(dyn ToSql + Sync),
            &r.device_id,
            &r.user_id,
            &r.email,
            &r.client_ip,
            &r.latitude,
            &r.longitude,
            &r.firmware,
            &r.temperature,
        ]);
        if let Some(s) = sent_at {
            out.push(s);
        }
    }
    out
}

/// The application's load: all writers connect and prepare, then the clock starts.
/// Returns (start, last commit).
pub(crate) async fn load(app: &ConnParams, rows: &Arc<Vec<Row>>) -> (Instant, Instant) {
    let barrier = Arc::new(tokio::sync::Barrier::new(WRITERS + 1));
    let per = rows.len() / WRITERS;
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (app, rows, barrier) = (app.clone(), Arc::clone(rows), Arc::clone(&barrier));
        writers.push(tokio::spawn(async move {
            let client = connect(&app).await.expect("writer connects");
            let stmt = client.prepare(&insert_sql(BATCH, false)).await.expect("prepare INSERT");
            barrier.wait().await;
            for chunk in rows[w * per..(w + 1) * per].chunks(BATCH) {
                client.execute(&stmt, &params(chunk, None)).await.expect("INSERT");
            }
        }));
    }
    barrier.wait().await;
    let start = Instant::now();
    for w in writers {
        w.await.expect("writer task");
    }
    (start, Instant::now())
}
