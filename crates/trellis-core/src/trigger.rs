//! Triggers: when something happens to a record, or a moment related to it
//! comes, check a condition and run actions — the birthday greeting (生日祝福),
//! the contract reminder 30 days before (合同到期), the nudge after 30 silent
//! days.
//!
//! A trigger's `when` is an event (`created`, `updated`, `deleted`, a field
//! `changed`, a segment changed) fired from the write path, or a moment
//! (`date`, `anniversary`, `inactive`) computed per record by [`next_fire`]:
//! the engine stores that instant per (trigger, record) and its tick reads
//! only what is due. Moments are local times in an IANA time zone (the
//! trigger's `tz`, or a record field's), so 09:00 is 09:00 where the customer
//! is, across DST changes. The time zone is looked up by the caller and
//! passed in: the core reads no tz database.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::action::{self, Action, Catalog, Site};
use crate::issue::Issue;
use crate::script::{self, Inputs, Script, ScriptError};
use crate::workdays::{self, WorkCalendar};
use crate::{calendar, duration, key};

/// The time zone of a trigger that names none: our users' (China Standard Time).
pub const DEFAULT_TZ: &str = "Asia/Shanghai";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerDef {
    pub key: String,
    pub form: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub when: Value,
    /// Checked against the record when the trigger fires; no condition: always.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    pub actions: Vec<Value>,
    /// A moment found more than this late (the server was down) is recorded as missed, not sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_lateness: Option<String>,
    /// Off (`false`): the trigger stays defined but nothing fires — no moments are kept,
    /// no event reacts, no cron runs; switched on again, moments count from then.
    #[serde(default = "on", skip_serializing_if = "is_on")]
    pub enabled: bool,
}

fn on() -> bool {
    true
}

fn is_on(b: &bool) -> bool {
    *b
}

/// Which write fires an event trigger.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Created,
    Updated,
    Deleted,
    Changed(String),
    /// A segment's value changed; with `from` / `to`, only from or to that value.
    SegmentChanged { segment: String, from: Option<Value>, to: Option<Value> },
}

/// Where a moment's time zone comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// The trigger's own (or the default).
    pub name: String,
    /// A record field holding an IANA name, used when it has one.
    pub field: Option<String>,
}

/// A moment related to a record.
#[derive(Debug, Clone, PartialEq)]
pub enum Moment {
    /// The date in `field`, moved by `offset` days, at `at` (one-shot).
    Date { field: String, offset: i64, at: Time },
    /// Every year on the month and day of `field` (by the lunar calendar with
    /// `lunar`: 农历生日), moved by `offset` days, at `at`.
    Anniversary { field: String, offset: i64, at: Time, lunar: bool },
    /// Every year on a festival (see [`crate::calendar::FESTIVALS`]), moved by `offset` days, at `at`.
    Festival { name: String, offset: i64, at: Time },
    /// `for` after the time in `field` (the last contact), at `at` if given (one-shot per silence).
    Inactive { field: String, after: SignedDuration, at: Option<Time> },
}

impl Moment {
    /// The field whose change moves the moment (a festival has none).
    pub fn field(&self) -> Option<&str> {
        match self {
            Moment::Date { field, .. } | Moment::Anniversary { field, .. } | Moment::Inactive { field, .. } => Some(field),
            Moment::Festival { .. } => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum When {
    Event(Event),
    Moment(Moment, Zone),
    /// By the clock alone, once per form (the Monday digest): a cron pattern in a time zone.
    Cron(croner::Cron, String),
}

/// What to do with a moment that falls on a day off (a weekend, a holiday).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayOff {
    /// Move it to the next working day, at the same local time.
    Next,
    /// Move it to the working day before.
    Previous,
    /// Drop it; a recurring moment comes again next time.
    Skip,
}

/// When a moment may come: on working days only, out of quiet hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Days {
    /// The working-day calendar (`cn` unless the trigger names another).
    pub calendar: String,
    /// `None`: a day off is like any other day.
    pub on_day_off: Option<DayOff>,
    /// Local times `[from, to)` with no reminders; a moment in them waits until `to`. May span midnight.
    pub quiet: Option<(Time, Time)>,
}

impl Default for Days {
    fn default() -> Self {
        Days { calendar: workdays::BUILT_IN.to_owned(), on_day_off: None, quiet: None }
    }
}

impl Days {
    /// Whether moments need a working-day calendar.
    pub fn needs_calendar(&self) -> bool {
        self.on_day_off.is_some()
    }

    /// `t` moved out of quiet hours, then off a day off; `None` when it is skipped.
    pub fn apply(&self, t: Timestamp, tz: &TimeZone, calendar: Option<&WorkCalendar>) -> Option<Timestamp> {
        let z = t.to_zoned(tz.clone());
        let (mut day, mut time) = (z.date(), z.time());
        if let Some((from, to)) = self.quiet {
            let quiet = if from <= to { time >= from && time < to } else { time >= from || time < to };
            if quiet {
                if from > to && time >= from {
                    day = day.tomorrow().ok()?;
                }
                time = to;
            }
        }
        if let (Some(rule), Some(cal)) = (self.on_day_off, calendar)
            && !cal.is_working(day)
        {
            day = match rule {
                DayOff::Next => cal.next_working(day)?,
                DayOff::Previous => cal.previous_working(day)?,
                DayOff::Skip => return None,
            };
        }
        if day == z.date() && time == z.time() {
            return Some(t);
        }
        local(day, time, tz)
    }
}

/// How far ahead [`next_allowed`] looks past skipped moments: over a year, so
/// a yearly moment skipped once still comes the year after.
const LOOK_AHEAD: SignedDuration = SignedDuration::from_hours(24 * 400);

/// The first moment after `after` that `days` lets come: `raw` gives the
/// moments as defined (the first one after an instant); each is moved by
/// `days`, and one moved to `after` or before it (a previous working day
/// already past) or skipped gives way to the next — for up to 400 days, so
/// an hourly cron skipping a long holiday still finds its next run.
pub fn next_allowed(raw: impl Fn(Timestamp) -> Option<Timestamp>, days: &Days, calendar: Option<&WorkCalendar>, tz: &TimeZone, after: Timestamp) -> Option<Timestamp> {
    let horizon = after.checked_add(LOOK_AHEAD).ok()?;
    let mut from = after;
    loop {
        let t = raw(from).filter(|t| *t > from && *t <= horizon)?;
        if let Some(moved) = days.apply(t, tz, calendar).filter(|m| *m > after) {
            return Some(moved);
        }
        from = t;
    }
}

/// Reads a cron pattern: five fields (minute, hour, day of month, month, day
/// of week); a seconds field is refused, as runs go over a whole form.
pub fn parse_cron(pattern: &str) -> Result<croner::Cron, String> {
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Disallowed)
        .build()
        .parse(pattern)
        .map_err(|e| format!("'{pattern}' is not a cron pattern of five fields ({e}); e.g. \"0 9 * * MON\" is Mondays at 09:00"))
}

/// The first time after `after` that a cron pattern matches, in `tz`.
pub fn next_cron(cron: &croner::Cron, tz: &TimeZone, after: Timestamp) -> Option<Timestamp> {
    cron.find_next_occurrence(&after.to_zoned(tz.clone()), false).ok().map(|z| z.timestamp())
}

#[derive(Debug, Clone)]
pub struct CompiledTrigger {
    pub def: TriggerDef,
    pub version: i64,
    pub when: When,
    pub condition: Option<Script>,
    pub actions: Vec<Action>,
    pub max_lateness: SignedDuration,
    pub days: Days,
}

/// When no `max_lateness` is given: a reminder a day late is still worth sending, two days is not.
pub const DEFAULT_MAX_LATENESS: SignedDuration = SignedDuration::from_hours(24);

impl CompiledTrigger {
    pub fn key(&self) -> &str {
        &self.def.key
    }

    /// Whether the condition holds for the record (no condition: it does).
    pub fn holds(&self, inputs: &Inputs<'_>) -> Result<bool, ScriptError> {
        match &self.condition {
            None => Ok(true),
            Some(s) => match script::sandbox().run(s, inputs)? {
                Value::Bool(b) => Ok(b),
                Value::Null => Ok(false),
                other => Err(ScriptError::plain(format!("a condition must give true or false, not {other}"))),
            },
        }
    }

    /// The fields whose change moves this trigger's next moment.
    pub fn depends_on(&self) -> Vec<&str> {
        match &self.when {
            When::Event(_) | When::Cron(..) => Vec::new(),
            When::Moment(m, z) => m.field().into_iter().chain(z.field.as_deref()).collect(),
        }
    }
}

fn parse_at(text: &str) -> Result<Time, String> {
    text.parse::<Time>().map_err(|_| format!("'{text}' is not a time of day: write 09:00"))
}

fn parse_days(text: &str) -> Result<i64, String> {
    let d = duration::parse(text)?;
    if d.as_secs() % 86_400 != 0 {
        return Err(format!("'{text}' is not a whole number of days: a date moves by days (e.g. -30d, 7d)"));
    }
    Ok(d.as_secs() / 86_400)
}

/// Reads a `when` object into its kind, each problem at its pointer.
fn parse_when(v: &Value, tz_ok: &dyn Fn(&str) -> bool, issues: &mut Vec<Issue>) -> Option<(When, Days)> {
    let Some(o) = v.as_object() else {
        issues.push(Issue::new("/when", "type", "`when` is an object, e.g. {\"anniversary\": \"birthday\", \"at\": \"09:00\"}").zh("提醒的触发时机（when）应是一个对象，例如 {\"anniversary\": \"birthday\", \"at\": \"09:00\"}"));
        return None;
    };
    let text = |k: &str, issues: &mut Vec<Issue>| -> Option<String> {
        match o.get(k) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                issues.push(Issue::new(format!("/when/{k}"), "type", format!("must be text, not {other}")).zh(format!("「{k}」应填写文字，不能是 {other}")));
                None
            }
            None => None,
        }
    };
    let allowed: &[&str];
    let mut days = Days::default();
    let when = if let Some(event) = text("event", issues) {
        let e = match event.as_str() {
            "created" => Event::Created,
            "updated" => Event::Updated,
            "deleted" => Event::Deleted,
            "changed" => match text("field", issues) {
                Some(f) => Event::Changed(f),
                None => {
                    issues.push(Issue::new("/when/field", "required", "a `changed` event names the field").zh("「字段变化」（changed）事件需要写明是哪个字段（field）"));
                    return None;
                }
            },
            "segment_changed" => match text("segment", issues) {
                Some(s) => Event::SegmentChanged { segment: s, from: o.get("from").cloned(), to: o.get("to").cloned() },
                None => {
                    issues.push(Issue::new("/when/segment", "required", "a `segment_changed` event names the segment").zh("「分层变化」（segment_changed）事件需要写明是哪个分层（segment）"));
                    return None;
                }
            },
            other => {
                issues.push(Issue::new("/when/event", "enum", format!("event '{other}' is not one of created, updated, deleted, changed, segment_changed")).zh(format!("事件「{other}」无效，只能是 created（新建）、updated（修改）、deleted（删除）、changed（字段变化）或 segment_changed（分层变化）")));
                return None;
            }
        };
        allowed = &["event", "field", "segment", "from", "to"];
        When::Event(e)
    } else {
        let at = |issues: &mut Vec<Issue>| text("at", issues).map(|a| parse_at(&a).map_err(|m| issues.push(Issue::new("/when/at", "time", m).zh(format!("「{a}」不是有效的时间，请写成 09:00 这样的格式")))).ok()).unwrap_or(Some(Time::midnight()));
        let offset = |issues: &mut Vec<Issue>| text("offset", issues).map(|t| parse_days(&t).map_err(|m| issues.push(Issue::new("/when/offset", "duration", m).zh(format!("偏移「{t}」须为整天数，例如 -30d、7d")))).ok()).unwrap_or(Some(0));
        let mut cron = None;
        let moment = if let Some(field) = text("date", issues) {
            allowed = &["date", "offset", "at", "tz", "tz_field", "on_day_off", "work_calendar", "quiet_hours"];
            Some(Moment::Date { field, offset: offset(issues).unwrap_or(0), at: at(issues).unwrap_or(Time::midnight()) })
        } else if let Some(field) = text("anniversary", issues) {
            allowed = &["anniversary", "offset", "at", "tz", "tz_field", "calendar", "on_day_off", "work_calendar", "quiet_hours"];
            let lunar = match text("calendar", issues).as_deref() {
                None | Some("solar") => false,
                Some("lunar") => true,
                Some(c) => {
                    issues.push(Issue::new("/when/calendar", "enum", format!("calendar '{c}' is not solar or lunar")).zh(format!("历法「{c}」无效，只能是 solar（公历）或 lunar（农历）")));
                    false
                }
            };
            Some(Moment::Anniversary { field, offset: offset(issues).unwrap_or(0), at: at(issues).unwrap_or(Time::midnight()), lunar })
        } else if let Some(name) = text("festival", issues) {
            allowed = &["festival", "offset", "at", "tz", "tz_field", "on_day_off", "work_calendar", "quiet_hours"];
            if !calendar::is_festival(&name) {
                let known: Vec<&str> = calendar::FESTIVALS.iter().map(|(k, _)| *k).collect();
                issues.push(Issue::new("/when/festival", "enum", format!("'{name}' is not a festival; use one of {}", known.join(", "))).zh(format!("「{name}」不是可用的节日；可选：{}", known.join("、"))));
            }
            Some(Moment::Festival { name, offset: offset(issues).unwrap_or(0), at: at(issues).unwrap_or(Time::midnight()) })
        } else if let Some(field) = text("inactive", issues) {
            allowed = &["inactive", "for", "at", "tz", "tz_field", "on_day_off", "work_calendar", "quiet_hours"];
            let Some(f) = text("for", issues) else {
                issues.push(Issue::new("/when/for", "required", "an `inactive` trigger says for how long, e.g. \"for\": \"30d\"").zh("未跟进提醒需要写明多久未跟进（for），例如 \"for\": \"30d\""));
                return None;
            };
            let after = duration::parse(&f).map_err(|m| issues.push(Issue::new("/when/for", "duration", m).zh(format!("未跟进时长「{f}」无效，请写成 30d、72h 这样的格式")))).unwrap_or(SignedDuration::ZERO);
            if after <= SignedDuration::ZERO && !issues.iter().any(|i| i.pointer == "/when/for") {
                issues.push(Issue::new("/when/for", "duration", "an inactivity lasts a positive time, e.g. 30d").zh("未跟进时长必须大于 0，例如 30d"));
            }
            let at = text("at", issues).and_then(|a| parse_at(&a).map_err(|m| issues.push(Issue::new("/when/at", "time", m).zh(format!("「{a}」不是有效的时间，请写成 09:00 这样的格式")))).ok());
            Some(Moment::Inactive { field, after, at })
        } else if let Some(pattern) = text("cron", issues) {
            allowed = &["cron", "tz", "on_day_off", "work_calendar", "quiet_hours"];
            match parse_cron(&pattern) {
                Ok(c) => cron = Some(c),
                Err(m) => issues.push(Issue::new("/when/cron", "cron", m).zh(format!("「{pattern}」不是有效的定时规则：须为 5 段（分 时 日 月 周），例如 \"0 9 * * MON\" 表示每周一 09:00"))),
            }
            None
        } else {
            issues.push(Issue::new("/when", "required", "`when` needs one of event, date, anniversary, festival, inactive, cron").zh("触发时机（when）需要以下之一：event（事件）、date（日期）、anniversary（周年）、festival（节日）、inactive（未跟进）、cron（定时规则）"));
            return None;
        };
        let name = text("tz", issues).unwrap_or_else(|| DEFAULT_TZ.to_owned());
        if !tz_ok(&name) {
            issues.push(Issue::new("/when/tz", "tz", format!("'{name}' is not an IANA time zone (e.g. Asia/Shanghai)")).zh(format!("「{name}」不是有效的时区，例如 Asia/Shanghai")));
        }
        days.on_day_off = match text("on_day_off", issues).as_deref() {
            None => None,
            Some("next_working_day") => Some(DayOff::Next),
            Some("previous_working_day") => Some(DayOff::Previous),
            Some("skip") => Some(DayOff::Skip),
            Some(other) => {
                issues.push(Issue::new("/when/on_day_off", "enum", format!("'{other}' is not one of next_working_day, previous_working_day, skip")).zh(format!("「{other}」无效，只能是 next_working_day（顺延到下一个工作日）、previous_working_day（提前到上一个工作日）或 skip（跳过）")));
                None
            }
        };
        if let Some(c) = text("work_calendar", issues) {
            days.calendar = c;
        }
        if let Some(q) = text("quiet_hours", issues) {
            let parsed = q.split_once('-').and_then(|(a, b)| Some((a.trim().parse::<Time>().ok()?, b.trim().parse::<Time>().ok()?)));
            match parsed {
                Some((from, to)) if from != to => days.quiet = Some((from, to)),
                _ => issues.push(Issue::new("/when/quiet_hours", "time", format!("'{q}' is not a span of local times: write 21:00-08:00")).zh(format!("免打扰时段「{q}」格式不对，请写成 21:00-08:00"))),
            }
        }
        match (moment, cron) {
            (Some(m), _) => When::Moment(m, Zone { name, field: text("tz_field", issues) }),
            (None, Some(c)) => When::Cron(c, name),
            (None, None) => return None,
        }
    };
    for k in o.keys() {
        if !allowed.contains(&k.as_str()) {
            issues.push(Issue::new(format!("/when/{k}"), "unknown", format!("'{k}' is not understood here; use {}", allowed.join(", "))).zh(format!("这里不能填写「{k}」；可用的有：{}", allowed.join("、"))));
        }
    }
    Some((when, days))
}

/// Checks a trigger and compiles its scripts. With a catalog, the form, the
/// fields, segments, messages and roles it names must exist.
pub fn compile(def: TriggerDef, version: i64, catalog: Option<Catalog<'_>>, tz_ok: &dyn Fn(&str) -> bool) -> Result<CompiledTrigger, Vec<Issue>> {
    let mut issues = Vec::new();
    if !key::is_valid(&def.key, key::MAX_FORM_KEY) {
        issues.push(Issue::new("/key", "key", format!("trigger key '{}' {}", def.key, key::rule(key::MAX_FORM_KEY))).zh(format!("提醒标识「{}」不合规：须为 1 到 {} 个小写字母、数字或下划线，以字母开头，下划线不能连用", def.key, key::MAX_FORM_KEY)));
    }
    let form = catalog.and_then(|c| c.forms.get(&def.form));
    if catalog.is_some() && form.is_none() {
        issues.push(Issue::new("/form", "form", format!("there is no form '{}'", def.form)).zh(format!("没有表单「{}」", def.form)));
    }
    let parsed = parse_when(&def.when, tz_ok, &mut issues);
    if let (Some(c), Some((_, days))) = (catalog, &parsed)
        && (days.needs_calendar() || def.when.get("work_calendar").is_some())
        && !c.calendars.contains(&days.calendar)
    {
        issues.push(Issue::new("/when/work_calendar", "calendar", format!("there is no working-day calendar '{}'; save it under /api/v1/calendars first", days.calendar)).zh(format!("没有工作日历「{}」，请先保存该工作日历", days.calendar)));
    }
    if let (Some(form), Some((when, _))) = (form, &parsed) {
        let field = match when {
            When::Event(Event::Changed(f)) => Some(("/when/field", f.as_str())),
            When::Moment(m, _) => m.field().map(|f| ("/when", f)),
            _ => None,
        };
        if let Some((pointer, f)) = field
            && form.field(f).is_none()
        {
            issues.push(Issue::new(pointer, "field", format!("form '{}' has no field '{f}'", def.form)).zh(format!("表单「{}」没有字段「{f}」", def.form)));
        }
        if let When::Event(Event::SegmentChanged { segment, .. }) = when
            && form.segment(segment).is_none()
        {
            issues.push(Issue::new("/when/segment", "segment", format!("form '{}' has no segment '{segment}'", def.form)).zh(format!("表单「{}」没有分层「{segment}」", def.form)));
        }
        if let When::Moment(_, Zone { field: Some(f), .. }) = when
            && form.field(f).is_none()
        {
            issues.push(Issue::new("/when/tz_field", "field", format!("form '{}' has no field '{f}'", def.form)).zh(format!("表单「{}」没有字段「{f}」", def.form)));
        }
    }
    let condition = def.condition.as_deref().and_then(|src| match script::sandbox().compile(src) {
        Ok(s) => Some(s),
        Err(e) => {
            issues.push(Issue::new("/condition", "script", e.message.clone()).at(e.line, e.column));
            None
        }
    });
    let actions = action::parse_actions(&def.actions, "/actions", Site { form: &def.form, workflow: None }, catalog, &mut issues);
    if def.actions.is_empty() {
        issues.push(Issue::new("/actions", "required", "a trigger needs at least one action").zh("提醒至少需要一个动作"));
    }
    let max_lateness = match &def.max_lateness {
        None => DEFAULT_MAX_LATENESS,
        Some(t) => match duration::parse(t) {
            Ok(d) if d >= SignedDuration::from_mins(1) => d,
            Ok(_) => {
                issues.push(Issue::new("/max_lateness", "duration", "max_lateness is at least 1m: a shorter one would miss every moment the tick is a second late for").zh("最长延迟（max_lateness）至少为 1m，否则稍晚一秒就会错过提醒"));
                DEFAULT_MAX_LATENESS
            }
            Err(m) => {
                issues.push(Issue::new("/max_lateness", "duration", m).zh(format!("最长延迟「{t}」不是有效的时长，请写成 30m、24h 这样的格式")));
                DEFAULT_MAX_LATENESS
            }
        },
    };
    let cron = def.when.get("cron").is_some();
    for (i, a) in actions.iter().enumerate() {
        if matches!(a, Action::Digest(_)) && !cron {
            issues.push(Issue::new(format!("/actions/{i}"), "digest", "a digest lists the records a cron trigger picked; use it in a trigger whose `when` is a cron").zh("汇总（digest）列出的是定时规则选出的记录，只能用在按定时规则（cron）触发的提醒里"));
        }
    }
    match parsed {
        Some((when, days)) if issues.is_empty() => Ok(CompiledTrigger { def, version, when, condition, actions, max_lateness, days }),
        _ => Err(issues),
    }
}

/// A date (`2026-03-01`) or a time (`2026-03-01T08:00:00Z`) read as a day in `tz`.
fn day_of(v: &Value, tz: &TimeZone) -> Option<Date> {
    let s = v.as_str()?;
    if let Ok(d) = s.parse::<Date>() {
        return Some(d);
    }
    s.parse::<Timestamp>().ok().map(|t| t.to_zoned(tz.clone()).date())
}

/// The local time `at` on `day` in `tz` as an instant; a time that a DST change skips moves forward.
fn local(day: Date, at: Time, tz: &TimeZone) -> Option<Timestamp> {
    day.to_datetime(at).to_zoned(tz.clone()).ok().map(|z| z.timestamp())
}

/// `month`/`day` in `year`; 29 February falls on 28 February in common years.
fn anniversary_in(year: i16, month: i8, day: i8) -> Option<Date> {
    Date::new(year, month, day).ok().or_else(|| (month == 2 && day == 29).then(|| Date::new(year, 2, 28).ok()).flatten())
}

/// The record's time zone: its `tz_field` when that holds a zone `lookup` knows, else the trigger's.
pub fn zone_of(zone: &Zone, data: &Map<String, Value>, lookup: &dyn Fn(&str) -> Option<TimeZone>) -> Option<TimeZone> {
    zone.field.as_deref().and_then(|f| data.get(f)).and_then(Value::as_str).and_then(lookup).or_else(|| lookup(&zone.name))
}

/// The first moment of `m` for a record after `after`, or none (no date in
/// the field, or a one-shot moment already past).
pub fn next_fire(m: &Moment, data: &Map<String, Value>, tz: &TimeZone, after: Timestamp) -> Option<Timestamp> {
    match m {
        Moment::Date { field, offset, at } => {
            let day = day_of(data.get(field)?, tz)?.checked_add(jiff::Span::new().days(*offset)).ok()?;
            local(day, *at, tz).filter(|t| *t > after)
        }
        Moment::Anniversary { field, offset, at, lunar } => {
            let born = day_of(data.get(field)?, tz)?;
            let year = after.to_zoned(tz.clone()).year();
            (year - 1..=year + 2).find_map(|y| {
                let days = if *lunar { calendar::lunar_anniversaries(born, y) } else { anniversary_in(y, born.month(), born.day()).into_iter().collect() };
                days.into_iter().find_map(|d| local(d.checked_add(jiff::Span::new().days(*offset)).ok()?, *at, tz).filter(|t| *t > after))
            })
        }
        Moment::Festival { name, offset, at } => {
            let year = after.to_zoned(tz.clone()).year();
            (year - 1..=year + 1).find_map(|y| local(calendar::festival(name, y)?.checked_add(jiff::Span::new().days(*offset)).ok()?, *at, tz).filter(|t| *t > after))
        }
        Moment::Inactive { field, after: quiet, at } => {
            let v = data.get(field)?;
            let last = match v.as_str()?.parse::<Timestamp>() {
                Ok(t) => t,
                Err(_) => local(day_of(v, tz)?, Time::midnight(), tz)?,
            };
            let due = last.checked_add(*quiet).ok()?;
            let due = match at {
                None => due,
                Some(at) => {
                    let z = due.to_zoned(tz.clone());
                    let same_day = local(z.date(), *at, tz)?;
                    if same_day >= due { same_day } else { local(z.date().tomorrow().ok()?, *at, tz)? }
                }
            };
            (due > after).then_some(due)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn tz(name: &str) -> TimeZone {
        TimeZone::get(name).unwrap()
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn data(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_birthday_falls_at_nine_local_time_every_year() {
        let m = Moment::Anniversary { field: "birthday".into(), offset: 0, at: "09:00".parse().unwrap(), lunar: false };
        let d = data(json!({"birthday": "1988-03-15"}));
        let sh = tz("Asia/Shanghai");
        assert_eq!(next_fire(&m, &d, &sh, ts("2026-03-01T00:00:00Z")), Some(ts("2026-03-15T01:00:00Z")));
        // Once it passed, next year's.
        assert_eq!(next_fire(&m, &d, &sh, ts("2026-03-15T01:00:00Z")), Some(ts("2027-03-15T01:00:00Z")));
        // The same birthday in New York is 09:00 there: EDT (UTC-4) after the March DST change.
        assert_eq!(next_fire(&m, &d, &tz("America/New_York"), ts("2026-03-01T00:00:00Z")), Some(ts("2026-03-15T13:00:00Z")));
        assert_eq!(next_fire(&m, &data(json!({"birthday": "1988-01-15"})), &tz("America/New_York"), ts("2026-03-01T00:00:00Z")), Some(ts("2027-01-15T14:00:00Z")));
    }

    #[test]
    fn february_29_falls_on_february_28_in_common_years() {
        let m = Moment::Anniversary { field: "birthday".into(), offset: 0, at: "09:00".parse().unwrap(), lunar: false };
        let d = data(json!({"birthday": "2000-02-29"}));
        let utc = TimeZone::UTC;
        assert_eq!(next_fire(&m, &d, &utc, ts("2026-01-01T00:00:00Z")), Some(ts("2026-02-28T09:00:00Z")));
        assert_eq!(next_fire(&m, &d, &utc, ts("2027-12-31T00:00:00Z")), Some(ts("2028-02-29T09:00:00Z")));
    }

    #[test]
    fn a_contract_reminder_comes_30_and_7_days_before_once() {
        let sh = tz("Asia/Shanghai");
        let d = data(json!({"contract_end": "2026-06-30"}));
        let m30 = Moment::Date { field: "contract_end".into(), offset: -30, at: "09:00".parse().unwrap() };
        let m7 = Moment::Date { field: "contract_end".into(), offset: -7, at: "09:00".parse().unwrap() };
        assert_eq!(next_fire(&m30, &d, &sh, ts("2026-01-01T00:00:00Z")), Some(ts("2026-05-31T01:00:00Z")));
        assert_eq!(next_fire(&m7, &d, &sh, ts("2026-01-01T00:00:00Z")), Some(ts("2026-06-23T01:00:00Z")));
        assert_eq!(next_fire(&m30, &d, &sh, ts("2026-05-31T01:00:00Z")), None, "one-shot");
        assert_eq!(next_fire(&m30, &data(json!({})), &sh, ts("2026-01-01T00:00:00Z")), None);
    }

    #[test]
    fn inactivity_counts_from_the_last_contact() {
        let sh = tz("Asia/Shanghai");
        let m = Moment::Inactive { field: "last_contact_at".into(), after: SignedDuration::from_hours(30 * 24), at: Some("09:00".parse().unwrap()) };
        let d = data(json!({"last_contact_at": "2026-03-01T10:00:00Z"}));
        // 30 days after 18:00 local on 1 March is 18:00 on 31 March: the next 09:00 is 1 April.
        assert_eq!(next_fire(&m, &d, &sh, ts("2026-03-02T00:00:00Z")), Some(ts("2026-04-01T01:00:00Z")));
        assert_eq!(next_fire(&m, &d, &sh, ts("2026-04-01T01:00:00Z")), None);
    }

    #[test]
    fn festivals_and_lunar_birthdays_fall_on_their_days() {
        let sh = tz("Asia/Shanghai");
        let m = Moment::Festival { name: "mid_autumn".into(), offset: -1, at: "10:00".parse().unwrap() };
        // The day before Mid-Autumn 2026 (25 September), 10:00 in Shanghai.
        assert_eq!(next_fire(&m, &data(json!({})), &sh, ts("2026-03-01T00:00:00Z")), Some(ts("2026-09-24T02:00:00Z")));
        assert_eq!(next_fire(&m, &data(json!({})), &sh, ts("2026-09-24T02:00:00Z")), Some(ts("2027-09-14T02:00:00Z")));
        let lunar = Moment::Anniversary { field: "birthday".into(), offset: 0, at: "09:00".parse().unwrap(), lunar: true };
        assert_eq!(next_fire(&lunar, &data(json!({"birthday": "1990-08-15"})), &sh, ts("2026-03-01T00:00:00Z")), Some(ts("2026-08-07T01:00:00Z")));
    }

    #[test]
    fn a_cron_pattern_comes_at_its_local_time() {
        let monday = "0 9 * * MON".parse::<croner::Cron>().unwrap();
        // Monday 23 November 2026, 09:00 in Shanghai is 01:00 UTC; the next is a week later.
        assert_eq!(next_cron(&monday, &tz("Asia/Shanghai"), ts("2026-11-22T12:00:00Z")), Some(ts("2026-11-23T01:00:00Z")));
        assert_eq!(next_cron(&monday, &tz("Asia/Shanghai"), ts("2026-11-23T01:00:00Z")), Some(ts("2026-11-30T01:00:00Z")));
        // 09:00 in New York: UTC-4 before the November change, UTC-5 after.
        assert_eq!(next_cron(&monday, &tz("America/New_York"), ts("2026-10-27T00:00:00Z")), Some(ts("2026-11-02T14:00:00Z")));
        assert_eq!(next_cron(&monday, &tz("America/New_York"), ts("2026-10-20T00:00:00Z")), Some(ts("2026-10-26T13:00:00Z")));
    }

    #[test]
    fn days_off_and_quiet_hours_move_a_moment() {
        let sh = tz("Asia/Shanghai");
        let cn = WorkCalendar::china();
        let next = Days { on_day_off: Some(DayOff::Next), ..Days::default() };
        // National Day 2026 (Thursday 1 October) at 09:00 moves to Thursday 8 October, the first working day.
        assert_eq!(next.apply(ts("2026-10-01T01:00:00Z"), &sh, Some(&cn)), Some(ts("2026-10-08T01:00:00Z")));
        // Saturday 10 October 2026 is a make-up working day (调休): it stays.
        assert_eq!(next.apply(ts("2026-10-10T01:00:00Z"), &sh, Some(&cn)), Some(ts("2026-10-10T01:00:00Z")));
        let previous = Days { on_day_off: Some(DayOff::Previous), ..Days::default() };
        assert_eq!(previous.apply(ts("2026-10-04T01:00:00Z"), &sh, Some(&cn)), Some(ts("2026-09-30T01:00:00Z")));
        let skip = Days { on_day_off: Some(DayOff::Skip), ..Days::default() };
        assert_eq!(skip.apply(ts("2026-10-05T01:00:00Z"), &sh, Some(&cn)), None);
        // Quiet 21:00-08:00: 23:30 on Friday 27 November waits until 08:00 on Saturday; with working days, Monday.
        let quiet = Days { quiet: Some(("21:00".parse().unwrap(), "08:00".parse().unwrap())), ..Days::default() };
        assert_eq!(quiet.apply(ts("2026-11-27T15:30:00Z"), &sh, Some(&cn)), Some(ts("2026-11-28T00:00:00Z")));
        assert_eq!(quiet.apply(ts("2026-11-27T01:00:00Z"), &sh, Some(&cn)), Some(ts("2026-11-27T01:00:00Z")), "09:00 is not quiet");
        let both = Days { on_day_off: Some(DayOff::Next), ..quiet.clone() };
        assert_eq!(both.apply(ts("2026-11-27T15:30:00Z"), &sh, Some(&cn)), Some(ts("2026-11-30T00:00:00Z")));
        // A weekly Monday digest skipped on a holiday Monday comes the Monday after.
        let monday = "0 9 * * MON".parse::<croner::Cron>().unwrap();
        let cal = crate::workdays::compile(&serde_json::from_value(json!({"key": "x", "holidays": ["2026-11-30"]})).unwrap()).unwrap();
        let raw = |after| next_cron(&monday, &sh, after);
        assert_eq!(next_allowed(raw, &skip, Some(&cal), &sh, ts("2026-11-23T01:00:00Z")), Some(ts("2026-12-07T01:00:00Z")));
        // An hourly cron skipping days off finds the first hour after National Day's week.
        let hourly = parse_cron("0 * * * *").unwrap();
        let raw = |after| next_cron(&hourly, &sh, after);
        assert_eq!(next_allowed(raw, &skip, Some(&cn), &sh, ts("2026-09-30T16:00:00Z")), Some(ts("2026-10-07T16:00:00Z")));
        assert!(parse_cron("* * * * * *").is_err(), "no seconds: a run goes over a whole form");
        // A birthday on a Sunday, moved to the Friday before, is not lost when the Friday is past: next year's comes.
        let m = Moment::Anniversary { field: "birthday".into(), offset: 0, at: "09:00".parse().unwrap(), lunar: false };
        let d = data(json!({"birthday": "1990-10-04"}));
        let raw = |after| next_fire(&m, &d, &sh, after);
        assert_eq!(next_allowed(raw, &previous, Some(&cn), &sh, ts("2026-09-01T00:00:00Z")), Some(ts("2026-09-30T01:00:00Z")));
        // 4 October 2027 is a Monday, and the built-in calendar has no 2027 holidays yet.
        assert_eq!(next_allowed(raw, &previous, Some(&cn), &sh, ts("2026-09-30T01:00:00Z")), Some(ts("2027-10-04T01:00:00Z")));
    }

    #[test]
    fn definitions_are_checked() {
        let ok = |_: &str| true;
        let bad: TriggerDef = serde_json::from_value(json!({"key": "b", "form": "customer", "when": {"anniversary": "birthday", "at": "9am", "calendar": "mayan", "tz": "Mars/Olympus", "colour": 1},
            "actions": [{"notify": "owner"}], "max_lateness": "soon"})).unwrap();
        let issues = compile(bad, 1, None, &|n: &str| n != "Mars/Olympus").unwrap_err();
        let pointers: Vec<&str> = issues.iter().map(|i| i.pointer.as_str()).collect();
        for p in ["/when/at", "/when/calendar", "/when/tz", "/when/colour", "/actions/0", "/max_lateness"] {
            assert!(pointers.contains(&p), "{p}: {issues:?}");
        }
        let festival: TriggerDef = serde_json::from_value(json!({"key": "f", "form": "customer", "when": {"festival": "halloween"}, "actions": [{"notify": "owner", "title": "x"}]})).unwrap();
        assert_eq!(compile(festival, 1, None, &ok).unwrap_err()[0].pointer, "/when/festival");
        let cron: TriggerDef = serde_json::from_value(json!({"key": "c", "form": "customer", "when": {"cron": "0 9 * * MONDAY-ish"}, "actions": [{"digest": {"to": "owner"}}]})).unwrap();
        let issues = compile(cron, 1, None, &ok).unwrap_err();
        let pointers: Vec<&str> = issues.iter().map(|i| i.pointer.as_str()).collect();
        assert_eq!(pointers, ["/when/cron", "/actions/0/digest"], "{issues:?}");
        let digest_on_a_birthday: TriggerDef = serde_json::from_value(json!({"key": "d", "form": "customer", "when": {"anniversary": "birthday", "on_day_off": "someday", "quiet_hours": "late"},
            "actions": [{"digest": {"to": "owner", "title": "x"}}]})).unwrap();
        let issues = compile(digest_on_a_birthday, 1, None, &ok).unwrap_err();
        let pointers: Vec<&str> = issues.iter().map(|i| i.pointer.as_str()).collect();
        assert_eq!(pointers, ["/when/on_day_off", "/when/quiet_hours", "/actions/0"], "{issues:?}");
        let event: TriggerDef = serde_json::from_value(json!({"key": "vip", "form": "customer", "when": {"event": "segment_changed", "segment": "tier", "to": "A"},
            "condition": "record.vip != true", "actions": [{"notify": "owner", "title": "新 VIP"}]})).unwrap();
        let t = compile(event, 1, None, &ok).unwrap();
        assert_eq!(t.when, When::Event(Event::SegmentChanged { segment: "tier".into(), from: None, to: Some(json!("A")) }));
    }
}
