//! The no-code builders in a real headless Chromium: conditions and segment
//! rules picked from lists, written as the rhai the engine runs, read back
//! as they were written; hand-written scripts open in the code editor and
//! are kept as they are.

use fantoccini::Locator;
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::harness::{Backend, Server};

/// Runs `body` (an async function body; `c` is conditions.js, `api` the
/// API client) in the signed-in page and returns what it resolves to.
async fn in_page(b: &Browser, body: &str) -> Value {
    let script = format!(
        r#"const done = arguments[arguments.length - 1];
        (async () => {{
          const c = await import('/app/static/js/conditions.js');
          const api = await import('/app/static/js/api.js');
          {body}
        }})().then(done, (e) => done({{ error: String(e && e.message || e) }}));"#
    );
    let out = b.client.execute_async(&script, vec![]).await.unwrap();
    assert!(out.get("error").is_none(), "{out}");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_condition_and_segment_of_the_crm_pack_opens_in_its_builder_or_as_hand_written_and_saves_back_unchanged() {
    let Some(s) = Server::start_at(Backend::Sqlite, "2026-12-01T02:00:00Z").await else { return };
    let Some(b) = Browser::start().await else { return };
    s.call(reqwest::Method::POST, "/api/v1/packs?bundled=crm-starter", Some(&s.token), None, &[]).await.expect(200);
    let app = format!("{}/app/", s.base);
    b.sign_in(&app).await;

    let seen = in_page(
        &b,
        r#"const out = { builder: [], code: [], changed: [] };
        const check = (where, src, read, write) => {
          if (typeof src !== 'string') { out.code.push(where); return; }
          const m = read(src);
          if (!m) out.code.push(where);
          else if (write(m) === src.trim()) out.builder.push(where);
          else out.changed.push(where);
        };
        const cond = (where, src) => check(where, src, c.readCondition, c.writeCondition);
        for (const f of (await api.get('/api/v1/forms')).items) {
          const d = f.definition;
          for (const [k, r] of Object.entries(d.rollups || {})) if (r.filter) cond(`form ${f.key} rollup ${k}`, r.filter);
          for (const [k, src] of Object.entries(d.computed || {})) check(`form ${f.key} computed ${k}`, src, c.readFormula, c.writeFormula);
          for (const [k, sg] of Object.entries(d.segments || {})) check(`form ${f.key} segment ${k}`, sg.script, (x) => c.readSegment(sg.kind, x), (m) => c.writeSegment(sg.kind, m));
        }
        for (const w of (await api.get('/api/v1/workflows')).items) {
          const d = w.definition;
          if (d.start?.condition) cond(`workflow ${w.key} start`, d.start.condition);
          for (const tr of d.transitions || []) {
            if (tr.guard) cond(`workflow ${w.key} ${tr.key} guard`, tr.guard);
            if (tr.when) cond(`workflow ${w.key} ${tr.key} when`, tr.when);
          }
        }
        for (const tg of (await api.get('/api/v1/triggers')).items) if (tg.definition.condition) cond(`trigger ${tg.key}`, tg.definition.condition);
        return out;"#,
    )
    .await;
    let list = |k: &str| -> Vec<String> { seen[k].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect() };
    let (builder, code) = (list("builder"), list("code"));
    assert_eq!(list("changed"), Vec::<String>::new(), "conditions the builder would rewrite: {seen}");
    for want in [
        "trigger urgent_complaint",
        "trigger birthday",
        "trigger low_nps_complaint",
        "trigger mid_autumn",
        "workflow pipeline quote guard",
        "workflow complaint start",
        "workflow lead_assignment start",
        "form customer rollup orders_90d",
        "form customer segment churn_risk",
        "form customer computed completeness",
        "form customer computed on_time_rate",
    ] {
        assert!(builder.iter().any(|x| x.starts_with(want)), "{want} should open in the builder: {seen}");
    }
    for want in ["trigger risk_cleared", "trigger monthly_data_check", "form customer rollup on_time_orders", "form customer segment tier", "form customer segment health"] {
        assert!(code.iter().any(|x| x == want), "{want} is hand-written and should open in the code editor: {seen}");
    }
    assert!(builder.len() >= 20, "most of the pack's conditions are builder-shaped: {seen}");

    // The pages: a hand-written condition in the code editor with the notice, untouched by a publish;
    // a builder-shaped one as rows; both publish back to the same text.
    let before = s.get("/api/v1/triggers/risk_cleared").await.expect(200).body["definition"].clone();
    b.client.goto(&format!("{app}#/triggers/risk_cleared")).await.unwrap();
    b.find("[data-condition=condition] [data-hand-written]").await;
    let text: Value = b.client.execute("return document.querySelector('[data-condition=condition] code-editor').value", vec![]).await.unwrap();
    assert_eq!(text, before["condition"]);
    b.shot("designers-01-hand-written").await;
    b.click("#publish-trigger").await;
    b.text_of(".notice.ok", "").await;
    assert_eq!(s.get("/api/v1/triggers/risk_cleared").await.expect(200).body["definition"]["condition"], before["condition"]);

    b.client.goto(&format!("{app}#/triggers/urgent_complaint")).await.unwrap();
    b.find("[data-condition=condition] .cb-row").await;
    assert_eq!(b.client.find_all(Locator::Css("[data-condition=condition] .cb-row")).await.unwrap().len(), 2);
    let join: Value = b.client.execute("return document.querySelector('[data-condition=condition] select[name=cb-join]').value", vec![]).await.unwrap();
    assert_eq!(join, "any");
    b.shot("designers-02-condition-builder").await;
    let before = s.get("/api/v1/triggers/urgent_complaint").await.expect(200).body["definition"]["condition"].clone();
    b.click("#publish-trigger").await;
    b.text_of(".notice.ok", "").await;
    assert_eq!(s.get("/api/v1/triggers/urgent_complaint").await.expect(200).body["definition"]["condition"], before);

    // Every trigger and workflow of the pack, opened in its designer and published untouched, is the same definition.
    for kind in ["trigger", "workflow"] {
        let list = s.get(&format!("/api/v1/{kind}s")).await.expect(200).body;
        for d in list["items"].as_array().unwrap() {
            let key = d["key"].as_str().unwrap();
            b.client.goto(&format!("{app}#/{kind}s/{key}")).await.unwrap();
            b.text_of("main .head .muted", &format!("· {key}")).await;
            b.settle().await;
            b.eval("document.querySelectorAll('.notice').forEach((n) => { n.className = ''; n.textContent = ''; }); return true").await;
            b.click(&format!("#publish-{kind}")).await;
            b.text_of(".notice.ok", "").await;
            let after = s.get(&format!("/api/v1/{kind}s/{key}")).await.expect(200).body;
            assert_eq!(after["definition"], d["definition"], "{kind} {key} changed by an untouched publish");
        }
    }

    // The 启用 switch takes a trigger off and on at once.
    b.client.goto(&format!("{app}#/triggers/birthday")).await.unwrap();
    b.click("#trigger-enabled input").await;
    b.click("#confirm-ok").await;
    b.text_of(".notice.ok", "已停用").await;
    assert_eq!(s.get("/api/v1/triggers/birthday").await.expect(200).body["definition"]["enabled"], false);
    b.click("#trigger-enabled input").await;
    b.text_of(".notice.ok", "已启用").await;
    assert!(s.get("/api/v1/triggers/birthday").await.expect(200).body["definition"].get("enabled").is_none());

    // Every action of the pack shows field by field, or as JSON with a notice when the builder
    // cannot (a script deciding the owner); each has its one-line summary.
    let actions = in_page(
        &b,
        r#"const a = await import('/app/static/js/actions.js');
        const out = { built: 0, json: [], summaries: {} };
        const forms = Object.fromEntries((await api.get('/api/v1/forms')).items.map((f) => [f.key, f.definition]));
        const messages = (await api.get('/api/v1/messages')).items;
        const workflows = (await api.get('/api/v1/workflows')).items;
        const look = (list, form, where) => {
          const ctx = a.actionContext({ form, forms, messages, workflows, roles: ['admin', 'manager', 'staff'], site: 'workflow' });
          (list || []).forEach((x, i) => { if (a.buildable(x)) out.built++; else out.json.push(`${where}/${i}`); out.summaries[`${where}/${i}`] = a.summary(x, ctx); });
        };
        for (const w of workflows) {
          const d = w.definition;
          for (const [k, st] of Object.entries(d.states)) { look(st.on_enter, d.form, `${w.key}/${k}/on_enter`); (st.timers || []).forEach((tm, i) => look(tm.actions, d.form, `${w.key}/${k}/timers/${i}`)); }
          (d.transitions || []).forEach((tr) => look(tr.actions, d.form, `${w.key}/${tr.key}`));
        }
        for (const tg of (await api.get('/api/v1/triggers')).items) look(tg.definition.actions, tg.definition.form, `trigger ${tg.key}`);
        return out;"#,
    )
    .await;
    // Only the scripted ones show as JSON: the owner decided by a script, and a complaint whose values are worked out by scripts.
    assert_eq!(actions["json"], json!(["lead_assignment/assigned/on_enter/0", "trigger low_nps_complaint/0"]), "{actions}");
    assert!(actions["built"].as_i64().unwrap() >= 25, "{actions}");
    let summary = |k: &str| actions["summaries"][k].as_str().unwrap_or_default().to_owned();
    assert!(summary("pipeline/new_lead/timers/0/0").starts_with("通知负责人的上级：消息模板「escalation"), "{actions}");
    assert_eq!(summary("pipeline/new_lead/timers/0/1"), "创建任务「72小时未联系：{{ record.name }}」给负责人的上级，期限 1 天");
    assert_eq!(summary("pipeline/won/on_enter/1"), format!("发邮件给字段「邮箱」里的人：消息模板「welcome · {}」", welcome_subject(&s).await));

    // The pipeline: guards as rows, actions as cards with their summaries; published untouched, it is the same workflow.
    let before = s.get("/api/v1/workflows/pipeline").await.expect(200).body["definition"].clone();
    b.client.goto(&format!("{app}#/workflows/pipeline")).await.unwrap();
    b.click("[data-transition=quote]").await;
    b.find("[data-condition=guard] .cb-row").await;
    b.shot("designers-03-workflow-transition").await;
    b.click("[data-node=new_lead]").await;
    b.text_of("[data-actions='timer-new_lead-0'] [data-action='0'] [data-summary]", "通知负责人的上级").await;
    b.shot("designers-03-workflow").await;
    b.click("#publish-workflow").await;
    b.text_of(".notice.ok", "").await;
    assert_eq!(s.get("/api/v1/workflows/pipeline").await.expect(200).body["definition"], before);

    // On a phone's width every designer takes one column and is no wider than the screen.
    b.client.set_window_size(390, 844).await.unwrap();
    for (page, shot) in [("workflows/pipeline", "designers-phone-workflow"), ("triggers/contract_expiry_30", "designers-phone-trigger"), ("forms/customer/rules", "designers-phone-rules")] {
        b.client.goto(&format!("{app}#/{page}")).await.unwrap();
        b.settle().await;
        if page == "forms/customer/rules" {
            b.click("[data-rule='segments/churn_risk']").await;
        }
        b.shot(shot).await;
        let wide: Value = b.client.execute("return document.documentElement.scrollWidth <= window.innerWidth + 1", vec![]).await.unwrap();
        let culprits: Value = b.client.execute("return [...document.querySelectorAll('main *')].filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 6).map((e) => e.tagName + '.' + e.className + '[' + (e.getAttribute('name') || '') + '] ' + Math.round(e.getBoundingClientRect().right))", vec![]).await.unwrap();
        assert_eq!(wide, true, "{page} is wider than a phone: {culprits}");
    }
    b.client.set_window_size(1440, 1000).await.unwrap();
    b.stop().await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operator_the_builder_writes_runs_in_the_engine_as_it_reads() {
    let Some(s) = Server::start_at(Backend::Sqlite, "2026-12-01T02:00:00Z").await else { return };
    let Some(b) = Browser::start().await else { return };
    let app = format!("{}/app/", s.base);
    b.sign_in(&app).await;
    // Each case: a row (or a tree), and what it gives on the sample record at 2026-12-01.
    let got = in_page(
        &b,
        r#"const record = { spend: 25000, region: '华北', tags: ['VIP', '老客户'], name: '王芳', joined: '2026-11-20', renew: '2026-12-10', vip: true };
        const r = (field, op, value, value2) => ({ join: 'all', items: [{ field: `record.${field}`, op, value, value2 }] });
        const cases = [
          ['eq', r('region', 'eq', '华北'), true], ['ne', r('region', 'ne', '华北'), false],
          ['in', r('region', 'in', ['华东', '华北']), true], ['nin', r('region', 'nin', ['华南']), true], ['nin hit', r('region', 'nin', ['华北']), false],
          ['has', r('tags', 'has', 'VIP'), true], ['has not', r('tags', 'has', '新客户'), false], ['has on nothing', r('none', 'has', 'VIP'), false],
          ['contains', r('name', 'contains', '王'), true], ['contains on nothing', r('none', 'contains', '王'), false],
          ['ge', r('spend', 'ge', 25000), true], ['gt', r('spend', 'gt', 25000), false], ['le', r('spend', 'le', 25000), true], ['lt', r('spend', 'lt', 30000.5), true],
          ['between', r('spend', 'between', 20000, 30000), true], ['between out', r('spend', 'between', 1, 2), false],
          ['present', r('name', 'present'), true], ['empty', r('none', 'empty'), true], ['present on nothing', r('none', 'present'), false],
          ['within', r('joined', 'within', 30), true], ['within short', r('joined', 'within', 5), false], ['older', r('joined', 'older', 30), false],
          ['next', r('renew', 'next', 10), true], ['next past', r('joined', 'next', 10), false],
          ['before', r('joined', 'lt', '2026-12-01'), true], ['after', r('joined', 'gt', '2026-12-01'), false],
          ['yes', r('vip', 'yes'), true], ['no', r('vip', 'no'), false], ['no on nothing', r('none', 'no'), true],
          ['nested', { join: 'any', items: [{ field: 'record.spend', op: 'lt', value: 10 }, { join: 'all', items: [{ field: 'record.region', op: 'eq', value: '华北' }, { field: 'record.vip', op: 'yes' }] }] }, true],
          ['quotes', r('name', 'eq', 'a "quoted" \\ name'), false],
        ];
        const out = [];
        for (const [name, tree, want] of cases) {
          const script = c.writeCondition(tree);
          const back = c.readCondition(script);
          const res = await api.post('/api/v1/scripts/test', { script, record, now: '2026-12-01T02:00:00Z' });
          out.push({ name, script, want, got: res.value, reads_back: !!back && c.writeCondition(back) === script });
        }
        // The segment shapes, run as the engine runs them.
        const when = (field, op, value) => ({ join: 'all', items: [{ field: `record.${field}`, op, value }] });
        const segs = [
          ['label', { rules: [{ when: when('spend', 'ge', 100000), label: 'A' }, { when: when('spend', 'ge', 20000), label: 'B' }], otherwise: 'C' }, 'B'],
          ['score', { base: 0, criteria: [{ when: when('spend', 'ge', 20000), points: 40 }, { when: when('region', 'eq', '华北'), points: 30 }, { when: when('vip', 'no'), points: 30 }], min: 0, max: 100 }, 70],
          ['labels', { rules: [{ when: when('tags', 'has', 'VIP'), label: 'vip' }, { when: when('spend', 'lt', 100), label: 'small' }, { when: when('joined', 'within', 30), label: 'new' }] }, ['vip', 'new']],
        ];
        for (const [kind, m, want] of segs) {
          const script = c.writeSegment(kind, m);
          const res = await api.post('/api/v1/scripts/test', { script, record, now: '2026-12-01T02:00:00Z' });
          const back = c.readSegment(kind, script);
          out.push({ name: kind, script, want, got: res.value, reads_back: !!back && c.writeSegment(kind, back) === script });
        }
        return out;"#,
    )
    .await;
    for case in got.as_array().unwrap() {
        assert_eq!(case["got"], case["want"], "{case}");
        assert_eq!(case["reads_back"], true, "{case}");
    }
    assert_eq!(got.as_array().unwrap().len(), 34);
    b.stop().await;
    s.stop().await;
}

/// The subject line of the pack's welcome message, as the summary quotes it.
async fn welcome_subject(s: &Server) -> String {
    let m = s.get("/api/v1/messages/welcome").await.expect(200).body;
    let template = m["definition"]["template"].as_str().unwrap().to_owned();
    template.lines().next().and_then(|l| l.strip_prefix("subject:")).map(|x| x.trim().to_owned()).unwrap_or_default()
}

/// On a form's rules page: a new segment `key` by thresholds on `field` (≥ each value → its label, otherwise `otherwise`).
async fn tier_by_thresholds(b: &Browser, key: &str, field: &str, tiers: &[(&str, &str)], otherwise: &str) {
    b.click("[data-add=segments]").await;
    b.fill("input[name=rule-key]", &format!("{key}\u{E007}")).await;
    b.find(&format!("[data-rule='segments/{key}']")).await;
    pick(b, "select[name=threshold-field]", field).await;
    for _ in tiers {
        b.click("[data-add-threshold]").await;
    }
    for (i, (at_least, label)) in tiers.iter().enumerate() {
        b.fill(&format!("input[name=threshold-{i}]"), at_least).await;
        b.fill(&format!("input[name=threshold-label-{i}]"), label).await;
    }
    b.fill("input[name=otherwise]", otherwise).await;
}

/// On a form's rules page: a new score segment `key` from criteria (field, operator, value, points); a value is picked
/// where the field offers choices, typed otherwise.
async fn score_from_criteria(b: &Browser, key: &str, criteria: &[(&str, &str, &str, &str)]) {
    b.click("[data-add=segments]").await;
    b.fill("input[name=rule-key]", &format!("{key}\u{E007}")).await;
    b.find(&format!("[data-rule='segments/{key}']")).await;
    pick(b, "select[name=rule-kind]", "score").await;
    b.find("[data-segment-builder=score]").await;
    for (i, (field, op, value, points)) in criteria.iter().enumerate() {
        b.click("[data-add-criterion]").await;
        let at = format!("[data-criterion='{i}']");
        pick(b, &format!("{at} select[name=cb-field]"), field).await;
        pick(b, &format!("{at} select[name=cb-op]"), op).await;
        let choice: Value = b.client.execute(&format!("return !!document.querySelector(\"{at} select[name=cb-value]\")"), vec![]).await.unwrap();
        if choice == Value::Bool(true) {
            pick(b, &format!("{at} select[name=cb-value]"), value).await;
        } else {
            b.fill(&format!("{at} input[name=cb-value]"), value).await;
        }
        b.fill(&format!("{at} input[name=points]"), points).await;
    }
}

/// Picks `value` in the `<select>` at `css`.
async fn pick(b: &Browser, css: &str, value: &str) {
    b.find(css).await.select_by_value(value).await.unwrap_or_else(|e| panic!("{css} = {value}: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_builds_a_tier_by_thresholds_a_score_from_three_criteria_and_a_trigger_condition_by_picking() {
    let Some(s) = Server::start_at(Backend::Sqlite, "2026-12-01T02:00:00Z").await else { return };
    let Some(b) = Browser::start().await else { return };
    s.post(
        "/api/v1/forms",
        json!({"key": "member", "title": "会员", "title_field": "name", "schema": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string", "title": "姓名"},
            "spend": {"type": "number", "format": "money", "title": "年度消费"},
            "region": {"type": "string", "enum": ["华北", "华东", "华南"], "title": "区域"},
            "joined": {"type": "string", "format": "date", "title": "入会日期"}}}}),
    )
    .await
    .expect(201);
    for (name, spend, region, joined) in [("甲", 150000, "华北", "2026-11-25"), ("乙", 50000, "华东", "2025-01-01"), ("丙", 800, "华南", "2026-11-30"), ("丁", 20000, "华北", "2024-05-05")] {
        s.post("/api/v1/forms/member/records", json!({"name": name, "spend": spend, "region": region, "joined": joined})).await.expect(201);
    }
    let app = format!("{}/app/", s.base);
    b.sign_in(&app).await;

    // 信息完整率 as a formula: the share of four fields filled in, its result on a stored record as it is picked.
    b.client.goto(&format!("{app}#/forms/member/rules")).await.unwrap();
    b.click("[data-add=computed]").await;
    b.fill("input[name=rule-key]", "filled\u{E007}").await;
    b.find("[data-rule='computed/filled']").await;
    pick(&b, "select[name=formula-fn]", "filled").await;
    for f in ["name", "spend", "region", "joined"] {
        b.click(&format!("[data-formula] .chip input[value={f}]")).await;
    }
    b.text_of("#formula-rhai", "completeness(record, [\"name\", \"spend\", \"region\", \"joined\"])").await;
    b.text_of("#rule-result", "100").await;
    b.shot("designers-04a-formula").await;

    // 客户等级 by thresholds on 年度消费: ≥ 100,000 → A, ≥ 20,000 → B, otherwise C.
    tier_by_thresholds(&b, "tier", "record.spend", &[("100000", "A"), ("20000", "B")], "C").await;
    b.click("#segment-simulate").await;
    b.text_of("#segment-moves", "4").await;
    b.find("#segment-spread tr[data-value=B]").await;
    b.shot("designers-04-tier-thresholds").await;

    // 健康度 from three criteria, capped at 0–100.
    score_from_criteria(&b, "health", &[("record.spend", "ge", "20000", "40"), ("record.region", "eq", "华北", "30"), ("record.joined", "within", "30", "30")]).await;
    b.click("#segment-simulate").await;
    b.text_of("#segment-moves", "4").await;
    b.shot("designers-05-score-criteria").await;
    b.click("#save-rules").await;
    b.text_of(".notice.ok", "2").await;

    let def = s.get("/api/v1/forms/member").await.expect(200).body["definition"].clone();
    assert_eq!(def["computed"]["filled"], "completeness(record, [\"name\", \"spend\", \"region\", \"joined\"])");
    assert_eq!(def["segments"]["tier"], json!({"kind": "label", "script": "if record.spend >= 100000 { \"A\" } else if record.spend >= 20000 { \"B\" } else { \"C\" }"}));
    assert_eq!(def["segments"]["health"]["kind"], "score");
    assert_eq!(
        def["segments"]["health"]["script"],
        "let s = 0;\nif record.spend >= 20000 { s += 40 }\nif record.region == \"华北\" { s += 30 }\nif days_since(record.joined) <= 30 { s += 30 }\nclamp(s, 0, 100)"
    );
    // Stored records follow the new rules at the next sweep; run it now.
    s.post("/api/v1/forms/member/segments/refresh", json!({})).await.expect(200);
    let page = s.list("member", &[("sort", "name")]).await.expect(200).body;
    let got: Vec<(String, Value, Value)> =
        page["items"].as_array().unwrap().iter().map(|r| (r["data"]["name"].as_str().unwrap().to_owned(), r["segments"]["tier"].clone(), r["segments"]["health"].clone())).collect();
    let want = [("丁", "B", 70), ("丙", "C", 30), ("乙", "B", 40), ("甲", "A", 100)];
    for (name, tier, health) in want {
        let row = got.iter().find(|r| r.0 == name).unwrap_or_else(|| panic!("{name} in {got:?}"));
        assert_eq!((row.1.clone(), row.2.clone()), (json!(tier), json!(health)), "{name}");
    }

    // The rule reopens in its builder after a reload.
    b.client.goto(&format!("{app}#/forms/member/rules")).await.unwrap();
    b.click("[data-rule='segments/tier']").await;
    let v: Value = b.client.execute("return document.querySelector('input[name=threshold-1]').value", vec![]).await.unwrap();
    assert_eq!(v, "20000");

    // A trigger's condition by picking: 区域 is 华北 or 华东.
    b.client.goto(&format!("{app}#/triggers/north_east?new=1")).await.unwrap();
    pick(&b, "select[name=form]", "member").await;
    b.click("[data-condition=condition] [data-add-row]").await;
    pick(&b, "[data-condition=condition] select[name=cb-field]", "record.region").await;
    pick(&b, "[data-condition=condition] select[name=cb-op]", "in").await;
    b.click("[data-condition=condition] .chip input[value='华北']").await;
    b.click("[data-condition=condition] .chip input[value='华东']").await;
    pick(&b, "select[name=when-anniversary]", "joined").await;
    // And a task for the owner's manager, due in 3 days, by picking.
    pick(&b, "[data-actions=trigger] select[data-add-action]", "create_task").await;
    pick(&b, "select[name=trigger-1-assignee-kind]", "manager").await;
    b.fill("input[name=trigger-1-due]", "3").await;
    b.text_of("[data-actions=trigger] [data-action='1'] [data-summary]", "给负责人的上级，期限 3 天").await;
    // And an email whose message is written on the spot, previewed on a stored member.
    pick(&b, "[data-actions=trigger] select[data-add-action]", "email").await;
    b.click("[data-actions=trigger] [data-action='2'] [data-new-message]").await;
    b.fill("dialog textarea[name=message-template]", "subject: 欢迎，{{ record.name }}\n{{ record.name }}，感谢您的支持。").await;
    b.text_of("#message-dialog-preview .subject", "欢迎，").await;
    b.shot("designers-06b-new-message").await;
    b.click("#message-save").await;
    b.text_of("[data-actions=trigger] [data-action='2'] [data-summary]", "消息模板「message_1 · 欢迎，{{ record.name }}」").await;
    b.shot("designers-06-trigger-condition-actions").await;
    b.click("#publish-trigger").await;
    b.text_of(".notice.ok", "1").await;
    let t = s.get("/api/v1/triggers/north_east").await.expect(200).body;
    assert_eq!(t["definition"]["condition"], "record.region in [\"华北\", \"华东\"]");
    assert_eq!(
        t["definition"]["actions"],
        json!([{"notify": "owner", "title": "提醒"}, {"create_task": {"title": "跟进：{{ record.name }}", "assignee": "manager", "due": "3d"}}, {"email": {"to": "owner", "message": "message_1"}}])
    );
    let m = s.get("/api/v1/messages/message_1").await.expect(200).body;
    assert_eq!(m["definition"]["template"], "subject: 欢迎，{{ record.name }}\n{{ record.name }}，感谢您的支持。");
    b.stop().await;
    s.stop().await;
}

/// The notification titles `token`'s user has, sorted.
async fn notes(s: &Server, token: &str) -> Vec<String> {
    let body = s.get_as(token, "/api/v1/notifications?limit=100").await.expect(200).body;
    let mut out: Vec<String> = body["items"].as_array().unwrap().iter().map(|n| n["title"].as_str().unwrap_or_default().to_owned()).collect();
    out.sort();
    out
}

/// A new admin, from an empty Trellis, builds by clicking and typing values only — no rhai, no JSON —
/// a customer form, a tier by thresholds, a health score from three criteria, a follow-up workflow
/// with a guard and a 72-hour escalation to the owner's manager, a contract-expiry reminder 30 days
/// before at 09:00 moved off days off, and a birthday greeting; a salesperson enters a customer in
/// the workspace; on the manual clock each reminder and the escalation arrive once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_admin_builds_a_crm_by_picking_and_its_reminders_and_escalation_arrive_once() {
    // Tuesday 2026-12-01, 10:00 in Beijing.
    let Some(s) = Server::start_at(Backend::Sqlite, "2026-12-01T02:00:00Z").await else { return };
    let Some(b) = Browser::start().await else { return };
    s.post("/api/v1/users", json!({"email": "li@example.com", "name": "李主管", "role": "manager", "password": crate::harness::PASSWORD})).await.expect(201);
    s.post("/api/v1/users", json!({"email": "wang@example.com", "name": "王芳", "role": "staff", "password": crate::harness::PASSWORD, "manager": "li@example.com"})).await.expect(201);
    let app = format!("{}/app/", s.base);
    b.sign_in(&app).await;

    // The form, by dragging fields from the palette.
    b.click("#new-form-button").await;
    b.fill("input[name=new-key]", "customer").await;
    b.fill("input[name=new-title]", "客户").await;
    b.click("#create-form").await;
    for (kind, key, label) in [("text", "name", "姓名"), ("phone", "phone", "手机"), ("money", "annual_spend", "年度消费"), ("number", "orders_365d", "近一年订单数"),
        ("date", "last_contact_at", "最近跟进"), ("date", "contract_end", "合同到期日"), ("date", "birthday", "生日")] {
        b.drag(&format!(".palette .item[data-kind={kind}]"), "[data-section-box='0']").await;
        b.find(&format!(".fcard.selected[data-key^={kind}_]")).await;
        b.fill(".props input[name=label]", label).await;
        b.fill(".props input[name=key]", key).await;
        b.find(&format!(".fcard.selected[data-key={key}]")).await;
    }
    b.click(".fcard[data-key=name]").await;
    b.click(".props input[name=required]").await;
    b.click("#publish").await;
    b.click("#confirm-publish").await;
    b.text_of(".notice.ok", "1").await;

    // 客户等级 by thresholds, 健康度 from three criteria.
    b.client.goto(&format!("{app}#/forms/customer/rules")).await.unwrap();
    tier_by_thresholds(&b, "tier", "record.annual_spend", &[("100000", "A"), ("20000", "B")], "C").await;
    b.fill("input[name=rule-title]", "客户等级").await;
    score_from_criteria(&b, "health", &[("record.orders_365d", "ge", "4", "40"), ("record.last_contact_at", "within", "30", "40"), ("record.annual_spend", "ge", "20000", "20")]).await;
    b.click("#save-rules").await;
    b.text_of(".notice.ok", "2").await;

    // The follow-up workflow on the diagram: 新线索 → 已联系 → 完成, a guard on 完成, 72 hours in 新线索 escalate to the owner's manager.
    b.client.goto(&format!("{app}#/workflows/follow_up?new=1")).await.unwrap();
    pick(&b, ".wf-panel select[name=form]", "customer").await;
    pick(&b, ".wf-panel select[name=start-on]", "created").await;
    b.click("[data-node=open]").await;
    b.fill("input[name=state-title]", "新线索").await;
    b.click("#add-timer").await;
    b.fill("input[name=timer-0-after]", "72").await;
    pick(&b, "[data-actions='timer-open-0'] select[data-add-action]", "notify").await;
    pick(&b, "select[name='timer-open-0-0-to-kind']", "manager").await;
    b.fill("input[name='timer-open-0-0-title']", "72小时未联系：{{ record.name }}").await;
    b.text_of("[data-actions='timer-open-0'] [data-summary]", "通知负责人的上级").await;
    b.click("#add-state").await;
    b.fill("input[name=state-title]", "已联系").await;
    b.drag("[data-handle=open]", "[data-node=state]").await;
    b.text_of(".wf-panel h2", "已联系").await;
    b.drag("[data-handle=state]", "[data-node=done]").await;
    b.text_of(".wf-panel h2", "完成").await;
    b.click("[data-condition=guard] [data-add-row]").await;
    pick(&b, "[data-condition=guard] select[name=cb-field]", "record.contract_end").await;
    pick(&b, "[data-condition=guard] select[name=cb-op]", "present").await;
    b.fill("input[name=guard-message]", "请先填写合同到期日").await;
    b.shot("designers-07-new-workflow").await;
    b.click("#publish-workflow").await;
    b.text_of(".notice.ok", "1").await;

    // 合同到期前 30 天 09:00, moved to the working day before a day off; 生日 09:00.
    for (key, kind, field, title) in [("contract_expiry", "date", "contract_end", "合同即将到期：{{ record.name }}"), ("birthday", "anniversary", "birthday", "生日：{{ record.name }}")] {
        b.client.goto(&format!("{app}#/triggers/{key}?new=1")).await.unwrap();
        pick(&b, "select[name=form]", "customer").await;
        pick(&b, "select[name=when-kind]", kind).await;
        pick(&b, &format!("select[name=when-{kind}]"), field).await;
        if kind == "date" {
            pick(&b, "select[name=when-offset-dir]", "before").await;
            b.fill("input[name=when-offset-days]", "30").await;
            pick(&b, "select[name=when-on_day_off]", "previous_working_day").await;
        }
        b.fill("input[name=trigger-0-title]", title).await;
        b.shot(&format!("designers-08-trigger-{key}")).await;
        b.click("#publish-trigger").await;
        b.text_of(".notice.ok", "1").await;
    }

    // What was built is what the docs write by hand.
    let form = s.get("/api/v1/forms/customer").await.expect(200).body["definition"].clone();
    assert_eq!(form["segments"]["tier"]["script"], "if record.annual_spend >= 100000 { \"A\" } else if record.annual_spend >= 20000 { \"B\" } else { \"C\" }");
    assert_eq!(form["segments"]["health"]["script"], "let s = 0;\nif record.orders_365d >= 4 { s += 40 }\nif days_since(record.last_contact_at) <= 30 { s += 40 }\nif record.annual_spend >= 20000 { s += 20 }\nclamp(s, 0, 100)");
    let wf = s.get("/api/v1/workflows/follow_up").await.expect(200).body["definition"].clone();
    assert_eq!(wf["states"]["open"]["timers"][0]["after"], "72h");
    assert_eq!(wf["states"]["open"]["timers"][0]["actions"], json!([{"notify": "manager", "title": "72小时未联系：{{ record.name }}"}]));
    let guarded = wf["transitions"].as_array().unwrap().iter().find(|t| t["key"] == "to_done").unwrap().clone();
    assert_eq!((guarded["from"].clone(), guarded["guard"].clone()), (json!("state"), json!("present(record.contract_end)")));
    let expiry = s.get("/api/v1/triggers/contract_expiry").await.expect(200).body["definition"].clone();
    assert_eq!(expiry["when"], json!({"date": "contract_end", "offset": "-30d", "at": "09:00", "on_day_off": "previous_working_day"}));
    let birthday = s.get("/api/v1/triggers/birthday").await.expect(200).body["definition"].clone();
    assert_eq!(birthday["when"], json!({"anniversary": "birthday", "at": "09:00", "tz": "Asia/Shanghai"}));

    // 王芳 enters a customer in the workspace: contract ends 2027-01-05 (30 days before is Sunday 6 December,
    // so Friday the 4th), birthday 3 December.
    b.click("#signout").await;
    b.find("#email").await;
    b.sign_in_as(&app, "wang@example.com", "王芳").await;
    b.client.goto(&format!("{app}#/forms/customer/new")).await.unwrap();
    b.fill("#f_name", "张三").await;
    b.fill("#f_annual_spend", "50000").await;
    b.fill("#f_orders_365d", "5").await;
    for (id, date) in [("#f_contract_end", "2027-01-05"), ("#f_birthday", "1990-12-03")] {
        b.client.execute(&format!("const i = document.querySelector('{id}'); i.value = '{date}'; i.dispatchEvent(new Event('input', {{ bubbles: true }})); i.dispatchEvent(new Event('change', {{ bubbles: true }}));"), vec![]).await.unwrap();
    }
    b.click("form.rform button[type=submit]").await;
    b.text_of("#entry-done", "已创建").await;
    let rec = s.list("customer", &[]).await.expect(200).body["items"][0].clone();
    assert_eq!((rec["segments"]["tier"].clone(), rec["segments"]["health"].clone()), (json!("B"), json!(60)), "{rec}");

    let wang = s.engine.login("wang@example.com", crate::harness::PASSWORD).await.unwrap().0;
    let li = s.engine.login("li@example.com", crate::harness::PASSWORD).await.unwrap().0;
    // The birthday at 09:00 Beijing on the 3rd; the contract on Friday the 4th at 09:00; the escalation 72 hours after creation.
    s.clock("2026-12-03T00:59:00Z").await;
    assert_eq!(notes(&s, &wang).await, Vec::<String>::new());
    s.clock("2026-12-03T01:00:30Z").await;
    assert_eq!(notes(&s, &wang).await, ["生日：张三"]);
    s.clock("2026-12-04T01:00:30Z").await;
    assert_eq!(notes(&s, &wang).await, ["合同即将到期：张三", "生日：张三"]);
    assert_eq!(notes(&s, &li).await, Vec::<String>::new());
    s.clock("2026-12-04T02:00:30Z").await;
    assert_eq!(notes(&s, &li).await, ["72小时未联系：张三"]);
    // Once each: later days bring nothing new.
    s.clock("2026-12-07T03:00:00Z").await;
    assert_eq!(notes(&s, &wang).await, ["合同即将到期：张三", "生日：张三"]);
    assert_eq!(notes(&s, &li).await, ["72小时未联系：张三"]);
    b.stop().await;
    s.stop().await;
}
