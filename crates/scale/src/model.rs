//! The model: inputs ([`Params`]), and for each mode the figures SCALE.md reports. Pure
//! and seeded: no clock, no I/O beyond the embedded latency table.

const LATENCY_CSV: &str = include_str!("../data/do_latency_ms.csv");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Strict,
    Edge,
    Regional,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::Strict, Mode::Edge, Mode::Regional];

    pub fn name(self) -> &'static str {
        match self {
            Mode::Strict => "strict",
            Mode::Edge => "edge",
            Mode::Regional => "regional",
        }
    }
}

/// Every input of the model.
#[derive(Clone, Debug)]
pub struct Params {
    pub seed: u64,
    /// Where the application's key ring lives (its first request's region).
    pub home: &'static str,
    /// Share of the application's traffic by region, in the table's order.
    pub traffic: [(&'static str, f64); 9],
    /// Spread of a single request's latency around the measured median: lognormal σ.
    pub sigma: f64,
    /// Time inside a Durable Object to answer a validation, ms.
    pub object_service_ms: f64,
    /// Simple requests one Durable Object serves per second.
    pub object_capacity_rps: f64,
    /// Edge mode: share of KV reads served from the location's cache, and their latency.
    pub kv_hit_ratio: f64,
    pub kv_hit_ms: f64,
    /// KV's central stores, where a cache miss goes (the nearer one).
    pub kv_stores: [&'static str; 2],
    /// KV's documented propagation bound, s.
    pub kv_propagation_s: f64,
    /// Edge mode: how long an isolate reuses a record it read, s.
    pub edge_cache_s: f64,
    /// Regional mode.
    pub lease_s: f64,
    pub clock_margin_s: f64,
    pub shards: u32,
    pub push_timeout_ms: f64,
    /// Chance that a push to one replica is not acknowledged (a partition, an overload).
    pub push_failure: f64,
    /// Edge and regional modes send usage in batches of this many requests.
    pub usage_batch: f64,
    /// The load at which renewals are counted, validations per second.
    pub reference_rps: f64,
    /// The flood.
    pub flood_rps: f64,
    pub flood_locations: f64,
    /// Failures a minute per location before the per-application filter trips.
    pub filter_threshold: f64,
    pub samples: usize,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            seed: 20_261_129,
            home: "enam",
            traffic: [
                ("wnam", 0.12),
                ("enam", 0.22),
                ("sam", 0.06),
                ("weur", 0.22),
                ("eeur", 0.06),
                ("apac", 0.18),
                ("oc", 0.05),
                ("afr", 0.04),
                ("me", 0.05),
            ],
            sigma: 0.3,
            object_service_ms: 0.5,
            object_capacity_rps: 1_000.0,
            kv_hit_ratio: 0.9,
            kv_hit_ms: 1.0,
            kv_stores: ["enam", "weur"],
            kv_propagation_s: 60.0,
            edge_cache_s: 5.0,
            lease_s: 30.0,
            clock_margin_s: 2.0,
            shards: 1,
            push_timeout_ms: 2_000.0,
            push_failure: 0.001,
            usage_batch: 500.0,
            reference_rps: 1_000.0,
            flood_rps: 100_000.0,
            flood_locations: 300.0,
            filter_threshold: 1_000.0,
            samples: 20_000,
        }
    }
}

impl Params {
    pub fn traffic_share(&self, region: usize) -> f64 {
        self.traffic[region].1
    }

    pub fn describe(&self) -> Vec<(&'static str, String)> {
        let mix = self
            .traffic
            .iter()
            .map(|(r, s)| format!("{r} {:.0}%", s * 100.0))
            .collect::<Vec<_>>()
            .join(", ");
        vec![
            ("traffic mix by region (assumed)", mix),
            ("key ring's region", self.home.into()),
            ("per-request latency", format!("the table's median × lognormal(σ = {})", self.sigma)),
            ("time inside a Durable Object per validation", format!("{} ms", self.object_service_ms)),
            ("capacity of one Durable Object", format!("{} simple requests/s (the order of magnitude Cloudflare states)", self.object_capacity_rps)),
            ("edge mode: KV cache hits", format!("{:.0}% at {} ms; misses go to the nearer of {} and {}", self.kv_hit_ratio * 100.0, self.kv_hit_ms, self.kv_stores[0], self.kv_stores[1])),
            ("KV propagation", format!("uniform up to {} s (Cloudflare's documented bound), then up to {} s more in an isolate's record cache", self.kv_propagation_s, self.edge_cache_s)),
            ("regional mode: lease, clock margin, shards", format!("{} s, {} s, {} per region", self.lease_s, self.clock_margin_s, self.shards)),
            ("regional mode: unacknowledged pushes", format!("{}% of replicas per change; push timeout {} ms", self.push_failure * 100.0, self.push_timeout_ms)),
            ("usage batches (edge, regional)", format!("{} requests", self.usage_batch)),
            ("load for renewals", format!("{} validations/s", self.reference_rps)),
            ("flood", format!("{} forged keys/s from {} locations; filter after {} failures a minute per location", self.flood_rps, self.flood_locations, self.filter_threshold)),
            ("samples", format!("{} per region and mode", self.samples)),
        ]
    }
}

pub struct Model {
    p: Params,
    names: Vec<String>,
    latency: Vec<Vec<f64>>,
}

/// splitmix64: small, fast and deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    fn unit(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Lognormal with median 1 (Box–Muller).
    fn spread(&mut self, sigma: f64) -> f64 {
        let (u, v) = (self.unit(), self.unit());
        let normal = (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos();
        (sigma * normal).exp()
    }
}

impl Model {
    pub fn new(p: Params) -> Model {
        let mut lines = LATENCY_CSV.lines();
        let names: Vec<String> = lines
            .next()
            .expect("header")
            .split(',')
            .skip(1)
            .map(str::to_owned)
            .collect();
        let latency = lines
            .map(|line| {
                line.split(',')
                    .skip(1)
                    .map(|cell| cell.parse::<f64>().expect("a number"))
                    .collect()
            })
            .collect();
        for (i, (region, _)) in p.traffic.iter().enumerate() {
            assert_eq!(
                names[i], *region,
                "the traffic mix follows the table's order"
            );
        }
        Model { p, names, latency }
    }

    pub fn regions(&self) -> Vec<String> {
        self.names.clone()
    }

    fn index(&self, region: &str) -> usize {
        self.names
            .iter()
            .position(|n| n == region)
            .expect("a region")
    }

    pub fn latency(&self, from: usize, to: usize) -> f64 {
        self.latency[from][to]
    }

    fn rng(&self, stream: u64) -> Rng {
        Rng(self.p.seed ^ stream.wrapping_mul(0xA24B_AED4_963E_E407))
    }

    /// One validation from a gate in `region`, ms.
    pub fn validation_latency(&self, mode: Mode, region: usize) -> Vec<f64> {
        let p = &self.p;
        let home = self.index(p.home);
        let mut rng = self.rng(1 + region as u64 * 7 + mode as u64);
        let store = p
            .kv_stores
            .iter()
            .map(|s| self.index(s))
            .min_by(|a, b| {
                self.latency(region, *a)
                    .total_cmp(&self.latency(region, *b))
            })
            .expect("a store");
        (0..p.samples)
            .map(|_| match mode {
                Mode::Strict => {
                    self.latency(region, home) * rng.spread(p.sigma) + p.object_service_ms
                }
                Mode::Edge if rng.unit() < p.kv_hit_ratio => p.kv_hit_ms * rng.spread(p.sigma),
                Mode::Edge => self.latency(region, store) * rng.spread(p.sigma),
                Mode::Regional => {
                    self.latency(region, region) * rng.spread(p.sigma) + p.object_service_ms
                }
            })
            .collect()
    }

    fn replicas(&self) -> usize {
        self.names.len() * self.p.shards as usize
    }

    /// From the key ring's decision until no location accepts the key, ms.
    pub fn revocation_time(&self, mode: Mode) -> Vec<f64> {
        let p = &self.p;
        let home = self.index(p.home);
        let mut rng = self.rng(100 + mode as u64);
        (0..p.samples)
            .map(|_| match mode {
                // Every validation asks the key ring, which decided.
                Mode::Strict => 0.0,
                Mode::Edge => {
                    (rng.unit() * p.kv_propagation_s + rng.unit() * p.edge_cache_s) * 1000.0
                }
                Mode::Regional => (0..self.replicas())
                    .map(|r| {
                        let region = r % self.names.len();
                        if rng.unit() < p.push_failure {
                            // Not acknowledged: it stops at its lease's end (less the margin).
                            rng.unit() * (p.lease_s - p.clock_margin_s) * 1000.0
                        } else {
                            // One way: half the measured request latency.
                            self.latency(home, region) / 2.0 * rng.spread(p.sigma)
                        }
                    })
                    .fold(0.0, f64::max),
            })
            .collect()
    }

    /// What the operator waits for a revoke, calling from the key ring's region, ms.
    pub fn revoke_api_latency(&self, mode: Mode) -> Vec<f64> {
        let p = &self.p;
        let home = self.index(p.home);
        let mut rng = self.rng(200 + mode as u64);
        (0..p.samples)
            .map(|_| {
                let call = self.latency(home, home) * rng.spread(p.sigma) + p.object_service_ms;
                match mode {
                    Mode::Strict | Mode::Edge => call,
                    Mode::Regional => {
                        let slowest = (0..self.replicas())
                            .map(|r| {
                                if rng.unit() < p.push_failure {
                                    p.push_timeout_ms
                                } else {
                                    (self.latency(home, r % self.names.len()) * rng.spread(p.sigma))
                                        .min(p.push_timeout_ms)
                                }
                            })
                            .fold(0.0, f64::max);
                        call + slowest
                    }
                }
            })
            .collect()
    }

    fn busiest_share(&self) -> f64 {
        self.p.traffic.iter().map(|(_, s)| *s).fold(0.0, f64::max)
    }

    /// `None`: no Durable Object on the path.
    pub fn max_rps(&self, mode: Mode) -> Option<f64> {
        let p = &self.p;
        match mode {
            Mode::Strict => Some(p.object_capacity_rps),
            Mode::Edge => None,
            Mode::Regional => {
                Some(p.object_capacity_rps * f64::from(p.shards) / self.busiest_share())
            }
        }
    }

    pub fn do_requests_per_million(&self, mode: Mode) -> f64 {
        let p = &self.p;
        let batches = 1e6 / p.usage_batch;
        match mode {
            Mode::Strict => 1e6,
            Mode::Edge => batches,
            Mode::Regional => {
                // Each replica renews in the last third of its lease.
                let seconds = 1e6 / p.reference_rps;
                let renewals = self.replicas() as f64 * seconds / (p.lease_s * 2.0 / 3.0);
                1e6 + batches + renewals
            }
        }
    }

    /// The busiest object's load from the flood, in multiples of its capacity.
    pub fn flood_load_unfiltered(&self, mode: Mode) -> Option<f64> {
        let p = &self.p;
        match mode {
            Mode::Strict => Some(p.flood_rps / p.object_capacity_rps),
            Mode::Edge => None,
            Mode::Regional => Some(
                p.flood_rps * self.busiest_share() / (p.object_capacity_rps * f64::from(p.shards)),
            ),
        }
    }

    /// As built: each location stops sending the flood to objects once it has counted the
    /// threshold of failures; until then the objects take it. (Seconds of overload, then
    /// object calls per second.)
    pub fn flood_with_filter(&self, mode: Mode) -> (f64, f64) {
        let p = &self.p;
        let per_location = p.flood_rps / p.flood_locations;
        let detection_s = p.filter_threshold / per_location;
        match mode {
            Mode::Edge => (0.0, 0.0),
            Mode::Strict | Mode::Regional => {
                let overloaded = self.flood_load_unfiltered(mode).unwrap_or(0.0) > 1.0;
                (if overloaded { detection_s } else { 0.0 }, 0.0)
            }
        }
    }

    pub fn notes(&self) -> String {
        let p = &self.p;
        format!(
            "## Reading it\n\n\
             - **Latency.** Strict mode pays a round trip to the key ring's region from every location;\n\
               regional mode pays one to the gate's own region, which for traffic far from {home}\n\
               is several times less. Edge mode is a KV read: fastest while cached.\n\
             - **Revocation.** Strict mode holds from the key ring's decision. Regional mode holds when the\n\
               pushes arrive (the API answers after the acknowledgements); a replica that does not\n\
               acknowledge stops at its lease's end, so the maximum is the lease less the margin\n\
               ({lease} s, {margin} s). Edge mode waits for KV's propagation, up to {kv} s, and for the\n\
               records isolates cached to expire, up to {cache} s more.\n\
             - **Capacity.** Strict mode puts every validation of an application on one object. Regional\n\
               mode divides it by region (and shard), so the busiest region's share sets the limit;\n\
               `REGIONAL_SHARDS` multiplies it.\n\
             - **Cost.** Regional mode makes as many Durable Object requests as strict mode (one per\n\
               validation, to the nearby replica instead of the distant key ring); edge mode makes\n\
               almost none. What a user pays for is requests, so regional mode buys latency and\n\
               revocation freshness, not a smaller bill.\n\
             - **Floods.** A forged key names a real application (its id is public). Without a filter,\n\
               strict mode's one object would take the whole flood, and regional mode's busiest replica\n\
               its region's share. As built, each location counts failures per application and, past\n\
               {threshold} a minute, asks a key's KV record first: the flood then costs one KV read a\n\
               key and no object call. The seconds of overload are the time each location takes to count\n\
               them ({threshold} at {per_location:.0}/s). In regional mode the key ring takes none of the flood.\n\
             - **Which to pick.** Secret keys that must die instantly and modest traffic: strict. Global\n\
               traffic with instant revocation: regional (add shards for more than about {regional_rps:.0}\n\
               validations/s). Very high volume where a minute of lag after a revocation is acceptable\n\
               (most publishable keys): edge.\n",
            home = p.home,
            lease = p.lease_s,
            margin = p.clock_margin_s,
            kv = p.kv_propagation_s,
            cache = p.edge_cache_s,
            threshold = p.filter_threshold,
            per_location = p.flood_rps / p.flood_locations,
            regional_rps = self.max_rps(Mode::Regional).unwrap_or(0.0),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_square_and_each_region_is_nearest_to_itself_or_close() {
        let model = Model::new(Params::default());
        let n = model.regions().len();
        assert_eq!(n, 9);
        for i in 0..n {
            let own = model.latency(i, i);
            let best = (0..n).map(|j| model.latency(i, j)).fold(f64::MAX, f64::min);
            // The measurements are noisy (sam's locations reach enam faster than sam), but a
            // region's own objects are never far from its best.
            assert!(
                own <= best * 1.6,
                "{}: {own} against {best}",
                model.regions()[i]
            );
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_figures() {
        let a = Model::new(Params::default()).validation_latency(Mode::Regional, 3);
        let b = Model::new(Params::default()).validation_latency(Mode::Regional, 3);
        assert_eq!(a, b);
    }

    #[test]
    fn modes_order_as_their_designs_say() {
        let model = Model::new(Params::default());
        let apac = model.regions().iter().position(|r| r == "apac").unwrap();
        let median = |mode| {
            let mut s = model.validation_latency(mode, apac);
            s.sort_by(f64::total_cmp);
            s[s.len() / 2]
        };
        assert!(median(Mode::Regional) < median(Mode::Strict) / 5.0);
        let max = |mode| model.revocation_time(mode).into_iter().fold(0.0, f64::max);
        assert_eq!(max(Mode::Strict), 0.0);
        assert!(max(Mode::Regional) <= 28_000.0);
        assert!(max(Mode::Edge) > 50_000.0);
        assert!(model.max_rps(Mode::Regional).unwrap() > model.max_rps(Mode::Strict).unwrap());
        assert!(model.do_requests_per_million(Mode::Edge) < 10_000.0);
    }
}
