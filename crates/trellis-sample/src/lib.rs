//! The CRM starter pack's sample data, generated deterministically.
//!
//! One fixed seed drives a small SplitMix64 generator, so every run writes
//! the same bytes: the CSVs in `templates/crm-starter/data/` are this
//! crate's output, and `tests/committed.rs` fails when they drift apart.
//!
//! The data is relative to [`AS_OF`] (2026-11-30, `sample_data.as_of` in
//! `pack.json`): the pack loader shifts every date by today − as_of, so a
//! demo always has recent follow-ups, contracts about to end and birthdays
//! coming up.
//!
//! Conventions (the pack format's): the header row is the form's field
//! keys; an empty cell is an absent value; arrays of text are joined with
//! `|`; an `x-link` to a customer holds the customer's phone (its unique
//! key), which the loader resolves to the record's id; `user` fields hold
//! the user's email (`users.csv`); dates are `YYYY-MM-DD`, times RFC 3339
//! with the `+08:00` offset. Computed, rollup and segment values are never
//! written: the engine derives them.

mod csv;
mod day;
mod rng;
mod tables;

use std::collections::BTreeSet;
use std::io;
use std::path::Path;

use csv::Table;
use day::Day;
use rng::Rng;
use tables::*;

/// The day the sample data is relative to (`sample_data.as_of` in `pack.json`).
pub const AS_OF: (i32, u32, u32) = (2026, 11, 30);

/// How many customers the data has; children are generated per customer.
pub const CUSTOMERS: usize = 1000;

const SEED: u64 = 0x7EE1_15C2_2026_1130;

/// The generated files: `(file name, CSV text)`, in a fixed order.
pub fn generate() -> Vec<(&'static str, String)> {
    Generator::new().run()
}

/// Writes the generated files into `dir` (created if missing); returns each
/// file's name, size in bytes and number of data rows.
pub fn write(dir: &Path) -> io::Result<Vec<(&'static str, usize, usize)>> {
    std::fs::create_dir_all(dir)?;
    let mut out = Vec::new();
    for (name, text) in generate() {
        std::fs::write(dir.join(name), text.as_bytes())?;
        out.push((name, text.len(), text.lines().count().saturating_sub(1)));
    }
    Ok(out)
}

/// What kind of customer a record is, which decides how much it buys and how often it is contacted.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Large, frequent buyers: mostly tier A.
    Key,
    /// Regular buyers: mostly tier B.
    Regular,
    /// Occasional buyers: mostly tier C.
    Small,
    /// A lead that has not bought yet.
    Lead,
}

struct Customer {
    class: Class,
    /// Stopped buying and talking some months ago (churn risk).
    lapsed: bool,
    /// Pays after the due date.
    late_payer: bool,
    /// How the customer feels about us: 0 unhappy, 1 neutral, 2 happy.
    mood: u8,
    /// The first contact.
    start: Day,
    /// The last day of activity: AS_OF, or earlier for a lapsed customer.
    end: Day,
    name: String,
    gender: &'static str,
    company: Option<String>,
    brand: &'static str,
    domain: String,
    position: Option<&'static str>,
    industry: Option<&'static str>,
    size: Option<&'static str>,
    phone: String,
    email: Option<String>,
    wechat: Option<String>,
    birthday: Option<Day>,
    lunar_birthday: bool,
    source: Option<&'static str>,
    owner: &'static str,
    region: &'static str,
    city: &'static str,
    address: Option<String>,
    tz: Option<&'static str>,
    tags: Vec<&'static str>,
    last_login: Option<(Day, u32, u32)>,
    notes: Option<&'static str>,
    /// Filled in after the orders and opportunities are made.
    annual_spend: Option<i64>,
    quote_amount: Option<i64>,
    contract_end: Option<Day>,
}

struct Order {
    customer: usize,
    date: Day,
    product: &'static Product,
    kind: &'static str,
    quantity: i64,
    /// In cents.
    amount: i64,
    status: &'static str,
    due: Day,
    paid: Option<Day>,
    notes: Option<&'static str>,
}

struct Generator {
    rng: Rng,
    as_of: Day,
    phones: BTreeSet<String>,
    emails: BTreeSet<String>,
    companies: BTreeSet<String>,
}

impl Generator {
    fn new() -> Self {
        Generator {
            rng: Rng::new(SEED),
            as_of: Day::from_ymd(AS_OF.0, AS_OF.1, AS_OF.2),
            phones: BTreeSet::new(),
            emails: BTreeSet::new(),
            companies: BTreeSet::new(),
        }
    }

    fn run(mut self) -> Vec<(&'static str, String)> {
        let mut customers: Vec<Customer> = (0..CUSTOMERS).map(|_| self.customer()).collect();
        let mut orders = Vec::new();
        for (i, c) in customers.iter().enumerate() {
            self.orders(i, c, &mut orders);
        }
        for (i, c) in customers.iter_mut().enumerate() {
            self.settle(c, orders.iter().filter(|o| o.customer == i));
        }
        let mut opportunities = Table::new(&["customer", "name", "product", "amount", "stage", "probability", "expected_close", "lost_reason", "next_step", "owner"]);
        for (i, c) in customers.iter_mut().enumerate() {
            let first = orders.iter().find(|o| o.customer == i);
            self.opportunities(c, first, &mut opportunities);
        }
        let mut contacts = Table::new(&["customer", "name", "gender", "position", "role", "is_decision_maker", "phone", "email", "wechat", "birthday", "owner", "notes"]);
        let mut follow_ups = Table::new(&["customer", "at", "method", "topic", "feedback", "issues", "next_action", "next_date", "owner"]);
        let mut revisits = Table::new(&["customer", "date", "method", "satisfaction", "nps", "comment", "owner"]);
        let mut complaints = Table::new(&["customer", "date", "channel", "category", "severity", "description", "status", "owner", "resolution", "resolved_at"]);
        for (i, c) in customers.iter().enumerate() {
            let first_order = orders.iter().find(|o| o.customer == i).map(|o| o.date);
            self.contacts(c, &mut contacts);
            self.follow_ups(c, first_order, &mut follow_ups);
            if let Some(first) = first_order {
                self.revisits(c, first, &mut revisits);
            }
            self.complaints(c, &mut complaints);
        }
        let mut order_table = Table::new(&["customer", "order_no", "date", "product", "kind", "quantity", "amount", "status", "due_date", "paid_date", "owner", "notes"]);
        // Order numbers count per day, in date order, as an ERP would hand them out.
        let mut by_date: Vec<usize> = (0..orders.len()).collect();
        by_date.sort_by_key(|&i| (orders[i].date, i));
        let mut numbers = vec![String::new(); orders.len()];
        let mut last = (Day(i64::MIN), 0);
        for i in by_date {
            let d = orders[i].date;
            last = if last.0 == d { (d, last.1 + 1) } else { (d, 1) };
            numbers[i] = format!("SO{}-{:04}", d.compact(), last.1 + 17 * (d.0.rem_euclid(5) as u32));
        }
        for (o, no) in orders.iter().zip(&numbers) {
            let c = &customers[o.customer];
            order_table.row(vec![
                c.phone.clone(),
                no.clone(),
                o.date.to_string(),
                o.product.name.to_owned(),
                o.kind.to_owned(),
                o.quantity.to_string(),
                money(o.amount),
                o.status.to_owned(),
                o.due.to_string(),
                opt(o.paid.map(|d| d.to_string())),
                c.owner.to_owned(),
                opt(o.notes.map(str::to_owned)),
            ]);
        }
        let mut customer_table = Table::new(&[
            "name", "gender", "company", "position", "industry", "size", "phone", "email", "wechat", "birthday", "lunar_birthday", "source", "owner", "region", "city",
            "address", "tz", "tags", "annual_spend", "quote_amount", "contract_end", "last_login_at", "at_risk", "notes",
        ]);
        for c in &customers {
            customer_table.row(vec![
                c.name.clone(),
                c.gender.to_owned(),
                opt(c.company.clone()),
                opt(c.position.map(str::to_owned)),
                opt(c.industry.map(str::to_owned)),
                opt(c.size.map(str::to_owned)),
                c.phone.clone(),
                opt(c.email.clone()),
                opt(c.wechat.clone()),
                opt(c.birthday.map(|d| d.to_string())),
                if c.lunar_birthday { "true".into() } else { String::new() },
                opt(c.source.map(str::to_owned)),
                c.owner.to_owned(),
                c.region.to_owned(),
                c.city.to_owned(),
                opt(c.address.clone()),
                opt(c.tz.map(str::to_owned)),
                c.tags.join("|"),
                opt(c.annual_spend.map(|a| money(a * 100))),
                opt(c.quote_amount.map(|a| money(a * 100))),
                opt(c.contract_end.map(|d| d.to_string())),
                opt(c.last_login.map(|(d, h, m)| d.at(h, m))),
                // Silent for months: the inactivity reminders raised the flag long ago.
                if c.lapsed { "true".into() } else { String::new() },
                opt(c.notes.map(str::to_owned)),
            ]);
        }
        vec![
            ("customer.csv", customer_table.finish()),
            ("contact.csv", contacts.finish()),
            ("follow_up.csv", follow_ups.finish()),
            ("opportunity.csv", opportunities.finish()),
            ("order.csv", order_table.finish()),
            ("revisit.csv", revisits.finish()),
            ("complaint.csv", complaints.finish()),
        ]
    }

    // ---- customers -------------------------------------------------------

    fn customer(&mut self) -> Customer {
        let r = &mut self.rng;
        let class = *r.weighted(&[(Class::Key, 10), (Class::Regular, 32), (Class::Small, 38), (Class::Lead, 20)]);
        let lapsed = class != Class::Lead && r.chance(0.13);
        let late_payer = r.chance(0.15);
        let mood = if lapsed { *r.weighted(&[(0u8, 3), (1, 4), (2, 3)]) } else { *r.weighted(&[(0u8, 1), (1, 3), (2, 12)]) };
        let start = match class {
            Class::Key => self.as_of.plus(-r.range(420, 720)),
            Class::Regular | Class::Small => self.as_of.plus(-r.range(150, 720)),
            Class::Lead => self.as_of.plus(-r.range(1, 75)),
        };
        let end = if lapsed { self.as_of.plus(-r.range(95, 260)).max(start.plus(60)) } else { self.as_of };

        let female = r.chance(0.42);
        let surname = r.weighted_by(SURNAMES, |s| s.2);
        let given_chars = if female { GIVEN_FEMALE } else { GIVEN_MALE };
        let (given, given_py) = if r.chance(0.35) {
            let g = r.pick(given_chars);
            (g.0.to_owned(), g.1.to_owned())
        } else {
            let a = r.pick(given_chars);
            let mut b = r.pick(given_chars);
            while b.0 == a.0 {
                b = r.pick(given_chars);
            }
            (format!("{}{}", a.0, b.0), format!("{}{}", a.1, b.1))
        };
        let name = format!("{}{}", surname.0, given);

        let region = *r.weighted(REGIONS);
        let cities: Vec<&'static City> = CITIES.iter().filter(|c| c.region == region).collect();
        let place: &'static City = cities[r.below(cities.len() as u64) as usize];
        let industry = r.pick(INDUSTRIES);
        let size = match class {
            Class::Key => *r.weighted(&[("100-499人", 3), ("500-999人", 4), ("1000人以上", 3)]),
            Class::Regular => *r.weighted(&[("20-99人", 5), ("100-499人", 4), ("500-999人", 1)]),
            Class::Small => *r.weighted(&[("1-19人", 5), ("20-99人", 4), ("100-499人", 1)]),
            Class::Lead => *r.weighted(&[("1-19人", 3), ("20-99人", 4), ("100-499人", 2), ("500-999人", 1)]),
        };
        let (company, brand) = self.company(place, industry, size);
        let r = &mut self.rng;
        // Web domains under example.com and mailboxes under example.net/.org (RFC 2606): a demo
        // whose outbox is wired to a real SMTP server never mails a stranger.
        let domain = match r.below(3) {
            0 => format!("{}{}.example.com", brand.1, place.abbr),
            1 => format!("{}.example.com", brand.1),
            _ => format!("{}{}.example.com", brand.2, industry.code),
        };
        let phone = self.phone(place);
        let r = &mut self.rng;
        let email = if r.chance(0.72) {
            let local = if r.chance(0.55) {
                let l = match r.below(3) {
                    0 => format!("{given_py}.{}", surname.1),
                    1 => format!("{}{}", surname.1, initials_of(&given_py, given.chars().count())),
                    _ => format!("{}{given_py}", surname.1),
                };
                format!("{l}@{domain}")
            } else {
                match r.below(4) {
                    0 => format!("{}@example.net", r.range(10_000_000, 2_999_999_999)),
                    1 => format!("{}{given_py}{}@example.org", surname.1, r.range(1, 999)),
                    2 => format!("{given_py}{}{}@example.net", surname.1, r.range(70, 99)),
                    _ => format!("{}_{given_py}@example.org", surname.1),
                }
            };
            Some(local)
        } else {
            None
        };
        let email = email.map(|e| self.unique_email(e));
        let r = &mut self.rng;
        let wechat = r.chance(0.4).then(|| match r.below(3) {
            0 => format!("{}{given_py}{}", surname.1, r.range(1970, 2005)),
            1 => format!("wxid_{}", r.alnum(12)),
            _ => format!("{given_py}_{}", r.range(100, 9999)),
        });
        let birthday = r.chance(0.72).then(|| {
            let y = r.range(1962, 2001) as i32;
            let m = r.range(1, 12) as u32;
            let d = r.range(1, i64::from(day::days_in_month(y, m))) as u32;
            Day::from_ymd(y, m, d)
        });
        let lunar_birthday = birthday.is_some() && r.chance(0.08);
        let source = r.chance(0.85).then(|| *r.weighted(SOURCES));
        let owner = owner_for(region, r);
        let address = (place.phone.is_none() && r.chance(0.55)).then(|| {
            let road = r.pick(ROADS);
            let n = r.range(1, 999);
            if r.chance(0.45) {
                format!("{}{}市{road}{n}号{}{}室", place.province, place.name, r.pick(BUILDINGS), r.range(2, 28) * 100 + r.range(1, 20))
            } else {
                format!("{}{}市{road}{n}号", place.province, place.name)
            }
        });
        let mut tags = Vec::new();
        if class == Class::Key && r.chance(0.6) {
            tags.push("重点客户");
        }
        if class == Class::Lead && r.chance(0.5) {
            tags.push("新客户");
        }
        for _ in 0..*r.weighted(&[(0usize, 50), (1, 35), (2, 15)]) {
            let t = *r.pick(TAGS);
            if !tags.contains(&t) {
                tags.push(t);
            }
        }
        let last_login = {
            let p = match class {
                Class::Key | Class::Regular => 0.7,
                Class::Small => 0.4,
                Class::Lead => 0.0,
            };
            r.chance(p).then(|| {
                let ago = if lapsed { r.range(40, 200) } else if r.chance(0.7) { r.range(0, 20) } else { r.range(21, 60) };
                (self.as_of.plus(-ago), r.range(8, 22) as u32, r.range(0, 59) as u32)
            })
        };
        Customer {
            class,
            lapsed,
            late_payer,
            mood,
            start,
            end,
            name,
            gender: if female { "女" } else { "男" },
            company: r.chance(0.96).then_some(company),
            brand: brand.0,
            domain,
            position: r.chance(0.85).then(|| *r.pick(POSITIONS)),
            industry: r.chance(0.9).then_some(industry.name),
            size: r.chance(0.8).then_some(size),
            phone,
            email,
            wechat,
            birthday,
            lunar_birthday,
            source,
            owner,
            region,
            city: place.name,
            address,
            tz: place.tz,
            tags,
            last_login,
            notes: r.chance(0.08).then(|| *r.pick(CUSTOMER_NOTES)),
            annual_spend: None,
            quote_amount: None,
            contract_end: None,
        }
    }

    /// A company name not used yet, and its brand (name, pinyin).
    fn company(&mut self, place: &City, industry: &Industry, size: &str) -> (String, &'static Brand) {
        loop {
            let r = &mut self.rng;
            let brand = r.pick(BRANDS);
            let word = r.pick(industry.words);
            let suffix = match size {
                "1000人以上" if r.chance(0.5) => "集团有限公司",
                "1000人以上" | "500-999人" if r.chance(0.5) => "股份有限公司",
                _ => "有限公司",
            };
            let name = if place.phone.is_some() {
                format!("{}{word}（{}）{suffix}", brand.0, place.name)
            } else {
                format!("{}{}{word}{suffix}", place.name, brand.0)
            };
            if self.companies.insert(name.clone()) {
                return (name, brand);
            }
        }
    }

    /// A phone number no one else in the data has: a mainland mobile, or an E.164 number abroad.
    fn phone(&mut self, place: &City) -> String {
        loop {
            let r = &mut self.rng;
            let p = match place.phone {
                None => {
                    let prefix = *r.weighted(MOBILE_PREFIXES);
                    format!("{prefix}{:08}", r.range(0, 99_999_999))
                }
                Some((code, lead, digits)) => format!("+{code}{lead}{}", r.digits(digits)),
            };
            if self.phones.insert(p.clone()) {
                return p;
            }
        }
    }

    fn mobile(&mut self) -> String {
        loop {
            let r = &mut self.rng;
            let prefix = *r.weighted(MOBILE_PREFIXES);
            let p = format!("{prefix}{:08}", r.range(0, 99_999_999));
            if self.phones.insert(p.clone()) {
                return p;
            }
        }
    }

    fn unique_email(&mut self, email: String) -> String {
        let mut e = email.clone();
        let mut n = 2;
        while !self.emails.insert(e.clone()) {
            let (local, domain) = email.split_once('@').unwrap_or((&email, ""));
            e = format!("{local}{n}@{domain}");
            n += 1;
        }
        e
    }

    // ---- orders ----------------------------------------------------------

    fn orders(&mut self, i: usize, c: &Customer, out: &mut Vec<Order>) {
        let r = &mut self.rng;
        let year_ago = self.as_of.plus(-365);
        let mut dates: Vec<Day> = Vec::new();
        match c.class {
            Class::Lead => return,
            Class::Key => {
                let recent_from = year_ago.max(c.start.plus(10));
                let recent_to = c.end;
                if recent_to > recent_from {
                    for _ in 0..r.range(4, 7) {
                        dates.push(recent_from.plus(r.range(0, recent_to.0 - recent_from.0)));
                    }
                }
                if year_ago > c.start.plus(10) {
                    for _ in 0..r.range(1, 3) {
                        dates.push(c.start.plus(r.range(10, year_ago.0 - c.start.0)));
                    }
                }
            }
            Class::Regular | Class::Small => {
                let n = if c.class == Class::Regular { r.range(3, 6) } else { r.range(1, 3) };
                let from = c.start.plus(7);
                for _ in 0..n {
                    dates.push(from.plus(r.range(0, (c.end.0 - from.0).max(1))));
                }
            }
        }
        dates.sort();
        let subscription = match c.class {
            Class::Key => &PRODUCTS[0],
            Class::Regular => &PRODUCTS[1],
            _ => &PRODUCTS[2],
        };
        let extras: &[usize] = match c.class {
            Class::Key => &[3, 5, 6, 7],
            Class::Regular => &[4, 5, 6, 7],
            _ => &[4, 7],
        };
        let mut last_subscription: Option<Day> = None;
        for date in dates {
            let r = &mut self.rng;
            let (product, kind) = match last_subscription {
                None => (subscription, "新购"),
                Some(s) if date.0 - s.0 >= 330 => (subscription, "续约"),
                Some(_) => (&PRODUCTS[*r.pick(extras)], "增购"),
            };
            if std::ptr::eq(product, subscription) {
                last_subscription = Some(date);
            }
            let (mut quantity, mut amount) = if product.per_unit {
                let q = r.range(2, 20);
                (q, q * *r.pick(product.prices) * 100)
            } else {
                (1, *r.pick(product.prices) * 100)
            };
            if c.class == Class::Key && !product.subscription {
                // Key accounts buy for several sites at once.
                let sites = r.range(2, 3);
                amount *= sites;
                quantity *= sites;
            }
            let discount = *r.weighted(&[(100, 6), (95, 2), (90, 2), (88, 1)]);
            amount = amount * discount / 100;
            let due = date.plus(30);
            let delay = if c.late_payer {
                r.range(20, 75)
            } else {
                match r.below(10) {
                    0..=5 => r.range(0, 14),
                    6..=8 => r.range(15, 29),
                    _ => r.range(31, 45),
                }
            };
            let age = self.as_of.0 - date.0;
            let (status, paid) = if r.chance(0.03) {
                ("已取消", None)
            } else if age > 45 && r.chance(0.02) {
                ("已退款", Some(date.plus(delay.min(age))))
            } else if date.plus(delay) <= self.as_of {
                ("已付款", Some(date.plus(delay)))
            } else if due < self.as_of {
                ("已逾期", None)
            } else {
                ("待付款", None)
            };
            let notes = r.chance(0.06).then(|| *r.pick(ORDER_NOTES));
            out.push(Order { customer: i, date, product, kind, quantity, amount, status, due, paid, notes });
        }
    }

    /// The typed-in fields that follow from the orders: annual spend and contract end.
    fn settle<'a>(&mut self, c: &mut Customer, orders: impl Iterator<Item = &'a Order>) {
        let year_ago = self.as_of.plus(-365);
        let mut spend = 0;
        let mut contract: Option<Day> = None;
        for o in orders {
            let counts = o.status != "已取消" && o.status != "已退款";
            if counts && o.date >= year_ago {
                spend += o.amount / 100;
            }
            if counts && o.product.subscription {
                contract = Some(o.date.plus(364));
            }
        }
        let r = &mut self.rng;
        c.annual_spend = match c.class {
            Class::Lead => r.chance(0.15).then(|| r.range(1, 30) * 1000),
            _ if c.class != Class::Key && r.chance(0.18) => None,
            _ => Some(spend / 100 * 100),
        };
        c.contract_end = contract;
    }

    // ---- opportunities ---------------------------------------------------

    fn opportunities(&mut self, c: &mut Customer, first_order: Option<&Order>, out: &mut Table) {
        let mut opps: Vec<(&'static str, &'static str, i64, &'static str, Day)> = Vec::new();
        let r = &mut self.rng;
        match (c.class, first_order) {
            (Class::Lead, _) | (_, None) => {
                if r.chance(0.6) {
                    let stage = *r.weighted(&[("初步接触", 35), ("需求确认", 30), ("方案报价", 20), ("谈判", 10), ("输单", 5)]);
                    let product = &PRODUCTS[*r.weighted(&[(0usize, 2), (1, 5), (2, 3)])];
                    let close = if stage == "输单" { self.as_of.plus(-r.range(3, 40)) } else { self.as_of.plus(r.range(10, 90)) };
                    opps.push((product.project, product.name, *r.pick(product.prices), stage, close));
                }
            }
            (_, Some(o)) => {
                if r.chance(0.45) {
                    opps.push((o.product.project, o.product.name, o.amount / 100, "成交", o.date));
                }
                if !c.lapsed && r.chance(0.28) {
                    let stage = *r.weighted(&[("需求确认", 4), ("方案报价", 4), ("谈判", 3), ("初步接触", 1)]);
                    let p = &PRODUCTS[*r.pick(&[3usize, 4, 5, 6, 7])];
                    let amount = if p.per_unit { r.range(3, 30) * *r.pick(p.prices) } else { *r.pick(p.prices) };
                    opps.push((p.project, p.name, amount, stage, self.as_of.plus(r.range(7, 100))));
                }
                if r.chance(0.08) {
                    let p = &PRODUCTS[*r.pick(&[3usize, 4, 5, 6])];
                    opps.push((p.project, p.name, *r.pick(p.prices), "输单", c.end.plus(-r.range(5, 120)).max(c.start.plus(10))));
                }
            }
        }
        for (project, product, amount, stage, close) in opps {
            let r = &mut self.rng;
            let probability = match stage {
                "初步接触" => 10,
                "需求确认" => 25,
                "方案报价" => 50,
                "谈判" => 75,
                "成交" => 100,
                _ => 0,
            };
            if matches!(stage, "方案报价" | "谈判" | "成交") {
                c.quote_amount = Some(amount);
            }
            let open = !matches!(stage, "成交" | "输单");
            out.row(vec![
                c.phone.clone(),
                format!("{}{project}", c.brand),
                product.to_owned(),
                money(amount * 100),
                stage.to_owned(),
                probability.to_string(),
                close.to_string(),
                if stage == "输单" { (*r.weighted(LOST_REASONS)).to_owned() } else { String::new() },
                if open { (*r.pick(NEXT_STEPS)).to_owned() } else { String::new() },
                c.owner.to_owned(),
            ]);
        }
    }

    // ---- contacts --------------------------------------------------------

    fn contacts(&mut self, c: &Customer, out: &mut Table) {
        let n = *self.rng.weighted(&[(0usize, 15), (1, 35), (2, 35), (3, 15)]);
        let mut roles: Vec<&'static str> = Vec::new();
        for k in 0..n {
            let r = &mut self.rng;
            let role = if k == 0 { "决策人" } else { *r.weighted(&[("采购", 4), ("财务", 3), ("技术", 3), ("使用者", 3), ("影响者", 2)]) };
            if k > 0 && roles.contains(&role) {
                continue;
            }
            roles.push(role);
            let female = r.chance(0.45);
            let surname = r.weighted_by(SURNAMES, |s| s.2);
            let chars = if female { GIVEN_FEMALE } else { GIVEN_MALE };
            let g1 = r.pick(chars);
            let (given, given_py) = if r.chance(0.4) {
                (g1.0.to_owned(), g1.1.to_owned())
            } else {
                let mut g2 = r.pick(chars);
                while g2.0 == g1.0 {
                    g2 = r.pick(chars);
                }
                (format!("{}{}", g1.0, g2.0), format!("{}{}", g1.1, g2.1))
            };
            let name = format!("{}{given}", surname.0);
            let position = *r.pick(match role {
                "决策人" => &["总经理", "副总经理", "董事长", "运营总监", "事业部总经理"][..],
                "采购" => &["采购经理", "采购主管", "采购专员"][..],
                "财务" => &["财务经理", "财务主管", "会计"][..],
                "技术" => &["IT经理", "技术总监", "信息部主管", "系统管理员"][..],
                "使用者" => &["运营专员", "行政主管", "销售经理", "客服主管"][..],
                _ => &["部门经理", "项目经理", "总经理助理"][..],
            });
            let email_wanted = r.chance(0.5);
            let wechat_wanted = r.chance(0.3);
            let birthday = r.chance(0.25).then(|| {
                let y = r.range(1965, 1998) as i32;
                let m = r.range(1, 12) as u32;
                Day::from_ymd(y, m, r.range(1, i64::from(day::days_in_month(y, m))) as u32)
            });
            let phone = if self.rng.chance(0.9) { self.mobile() } else { String::new() };
            let email = email_wanted.then(|| self.unique_email(format!("{given_py}.{}@{}", surname.1, c.domain)));
            let r = &mut self.rng;
            let wechat = wechat_wanted.then(|| format!("{}{given_py}{}", surname.1, r.range(10, 99)));
            let notes = r.chance(0.08).then(|| *r.pick(CONTACT_NOTES));
            out.row(vec![
                c.phone.clone(),
                name,
                (if female { "女" } else { "男" }).to_owned(),
                position.to_owned(),
                role.to_owned(),
                if role == "决策人" { "true".into() } else { String::new() },
                phone,
                opt(email),
                opt(wechat),
                opt(birthday.map(|d| d.to_string())),
                c.owner.to_owned(),
                opt(notes.map(str::to_owned)),
            ]);
        }
    }

    // ---- follow-ups ------------------------------------------------------

    fn follow_ups(&mut self, c: &Customer, first_order: Option<Day>, out: &mut Table) {
        let r = &mut self.rng;
        let n = match c.class {
            Class::Key => r.range(6, 10),
            Class::Regular => r.range(4, 7),
            Class::Small => r.range(2, 4),
            Class::Lead => *r.weighted(&[(0, 3), (1, 3), (2, 2), (3, 2)]),
        };
        let from = c.start.max(self.as_of.plus(-365));
        let to = c.end.min(self.as_of.plus(-1));
        let mut days: Vec<Day> = (0..n).map(|_| from.plus(r.range(0, (to.0 - from.0).max(0)))).map(Day::weekday_or_friday).collect();
        days.sort();
        // A customer still buying has been talked to lately: the last follow-up is within 40 days.
        if !c.lapsed
            && c.class != Class::Lead
            && let Some(last) = days.last_mut()
            && last.0 < self.as_of.0 - 40
        {
            *last = self.as_of.plus(-self.rng.range(1, 40)).weekday_or_friday();
            days.sort();
        }
        let manager = manager_of(c.owner);
        for d in days {
            let r = &mut self.rng;
            let selling = first_order.is_none_or(|f| d < f);
            let topic = *r.pick(if selling { SALES_TOPICS } else { CARE_TOPICS });
            let method = if topic.contains("拜访") { "拜访" } else { *r.weighted(METHODS) };
            let hour = r.range(9, 17) as u32;
            let minute = (r.range(0, 11) * 5) as u32;
            let feedback = r.chance(0.7).then(|| *r.pick(if selling { SALES_FEEDBACK } else { CARE_FEEDBACK }));
            let issues = r.chance(0.35).then(|| *r.pick(ISSUES));
            let next = r.chance(0.6).then(|| (*r.pick(if selling { SALES_NEXT } else { CARE_NEXT }), d.plus(r.range(2, 14))));
            let owner = if r.chance(0.1) { manager } else { c.owner };
            out.row(vec![
                c.phone.clone(),
                d.at(hour, minute),
                method.to_owned(),
                topic.to_owned(),
                opt(feedback.map(str::to_owned)),
                opt(issues.map(str::to_owned)),
                opt(next.map(|n| n.0.to_owned())),
                opt(next.map(|n| n.1.to_string())),
                owner.to_owned(),
            ]);
        }
    }

    // ---- revisits --------------------------------------------------------

    fn revisits(&mut self, c: &Customer, first_order: Day, out: &mut Table) {
        let r = &mut self.rng;
        let n = match c.class {
            Class::Key => r.range(2, 4),
            Class::Regular => r.range(1, 2),
            _ => r.range(0, 1),
        };
        let from = first_order.plus(7).max(self.as_of.plus(-365));
        if from >= c.end {
            return;
        }
        let mut days: Vec<Day> = (0..n).map(|_| from.plus(r.range(0, c.end.0 - from.0)).weekday_or_friday()).collect();
        days.sort();
        days.dedup();
        for d in days {
            let r = &mut self.rng;
            let satisfaction = match c.mood {
                0 => *r.weighted(&[(1i64, 1), (2, 3), (3, 4), (4, 2)]),
                1 => *r.weighted(&[(2i64, 1), (3, 3), (4, 5), (5, 1)]),
                _ => *r.weighted(&[(3i64, 1), (4, 4), (5, 6)]),
            };
            let nps = match satisfaction {
                1 => r.range(0, 4),
                2 => r.range(3, 6),
                3 => *r.weighted(&[(5i64, 1), (6, 2), (7, 4), (8, 3)]),
                4 => r.range(7, 9),
                _ => r.range(8, 10),
            };
            let comment = r.chance(0.55).then(|| *r.pick(if nps <= 6 { COMMENTS_LOW } else { COMMENTS_HIGH }));
            out.row(vec![
                c.phone.clone(),
                d.to_string(),
                (*r.weighted(&[("电话", 6), ("微信", 3), ("上门", 1), ("问卷", 2)])).to_owned(),
                satisfaction.to_string(),
                nps.to_string(),
                opt(comment.map(str::to_owned)),
                c.owner.to_owned(),
            ]);
        }
    }

    // ---- complaints ------------------------------------------------------

    fn complaints(&mut self, c: &Customer, out: &mut Table) {
        let r = &mut self.rng;
        let p = match (c.class, c.mood) {
            (Class::Lead, _) => 0.0,
            (_, 0) => 0.35,
            (_, 1) => 0.08,
            _ => 0.02,
        };
        if !r.chance(p) {
            return;
        }
        let from = c.start.plus(20).max(self.as_of.plus(-365));
        if from >= c.end {
            return;
        }
        let date = from.plus(r.range(0, c.end.0 - from.0));
        let (category, descriptions, resolutions) = *r.pick(COMPLAINTS);
        let description = *r.pick(descriptions);
        let severity = *r.weighted(&[("低", 3), ("中", 4), ("高", 2), ("紧急", 1)]);
        let age = self.as_of.0 - date.0;
        let status = if age > 21 { *r.weighted(&[("已解决", 6), ("已关闭", 3), ("处理中", 1)]) } else { *r.weighted(&[("待处理", 4), ("处理中", 4), ("已解决", 2)]) };
        let done = matches!(status, "已解决" | "已关闭");
        let resolved = done.then(|| date.plus(r.range(1, 12).min(age.max(1))));
        out.row(vec![
            c.phone.clone(),
            date.to_string(),
            (*r.weighted(&[("电话", 5), ("邮件", 2), ("在线客服", 3), ("现场", 1), ("社交媒体", 1)])).to_owned(),
            category.to_owned(),
            severity.to_owned(),
            description.to_owned(),
            status.to_owned(),
            c.owner.to_owned(),
            if done { (*r.pick(resolutions)).to_owned() } else { String::new() },
            opt(resolved.map(|d| d.to_string())),
        ]);
    }
}

/// An amount in cents as a plain number: `1280`, `1216.50`.
fn money(cents: i64) -> String {
    if cents % 100 == 0 { (cents / 100).to_string() } else { format!("{}.{:02}", cents / 100, cents % 100) }
}

fn opt(v: Option<String>) -> String {
    v.unwrap_or_default()
}

/// Initials of a given name's pinyin, knowing how many characters it has.
fn initials_of(given_py: &str, chars: usize) -> String {
    if chars == 1 {
        return given_py.chars().next().map(String::from).unwrap_or_default();
    }
    // Two syllables: the second starts after the first's final; find it by the tables.
    for g in GIVEN_MALE.iter().chain(GIVEN_FEMALE) {
        if let Some(rest) = given_py.strip_prefix(g.1)
            && GIVEN_MALE.iter().chain(GIVEN_FEMALE).any(|h| h.1 == rest)
        {
            return format!("{}{}", &g.1[..1], &rest[..1]);
        }
    }
    given_py.chars().take(2).collect()
}
