use super::*;

fn files(list: &[(&str, &str)]) -> Files {
    list.iter().map(|(p, t)| (p.to_string(), t.as_bytes().to_vec())).collect()
}

const MANIFEST: &str = r#"{"name": "mini", "version": "1.0.0", "title": "小模板"}"#;
const CUSTOMER: &str = r#"{
  "title": "客户",
  "schema": {"type": "object", "properties": {
    "name": {"type": "string"},
    "spend": {"type": "number"}
  }},
  "segments": {"tier": {"kind": "label", "script": {"file": "scripts/tier.rhai"}}}
}"#;

fn checked(list: &[(&str, &str)]) -> Vec<String> {
    match read(&files(list)) {
        Ok(p) => check(&p, &|z| z == "Asia/Shanghai").iter().map(ToString::to_string).collect(),
        Err(issues) => issues.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn a_good_pack_reads_with_its_scripts_filled_in_and_checks() {
    let f = files(&[("pack.json", MANIFEST), ("forms/customer.json", CUSTOMER), ("scripts/tier.rhai", "if record.spend > 10 { \"A\" } else { \"B\" }"), ("README.md", "# mini")]);
    let p = read(&f).unwrap();
    assert_eq!(p.version, semver::Version::new(1, 0, 0));
    let d = p.definition(FORM, "customer").unwrap();
    assert_eq!(d.value["key"], "customer", "the key comes from the file name");
    assert_eq!(d.value["segments"]["tier"]["script"], "if record.spend > 10 { \"A\" } else { \"B\" }");
    assert_eq!(check(&p, &|_| true), vec![]);
}

#[test]
fn json_syntax_errors_are_placed_at_their_line_and_column() {
    let out = checked(&[("pack.json", MANIFEST), ("forms/customer.json", "{\n  \"title\": \"客户\",\n  \"schema\": {\n}")]);
    assert_eq!(out.len(), 1);
    assert!(out[0].starts_with("forms/customer.json:4:"), "{out:?}");
}

#[test]
fn a_script_error_is_placed_in_the_script_file() {
    let out = checked(&[("pack.json", MANIFEST), ("forms/customer.json", CUSTOMER), ("scripts/tier.rhai", "let x = 1;\nif record.spend > { \"A\" }")]);
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(out[0].starts_with("scripts/tier.rhai:2:"), "{out:?}");
}

#[test]
fn an_inline_script_error_is_placed_in_the_json_file() {
    let form = CUSTOMER.replace(r#"{"file": "scripts/tier.rhai"}"#, r#""recrd.spend""#);
    let out = checked(&[("pack.json", MANIFEST), ("forms/customer.json", &form)]);
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(out[0].starts_with("forms/customer.json:7:"), "{out:?}");
    assert!(out[0].contains("recrd"), "{out:?}");
}

#[test]
fn unknown_references_are_placed_at_their_key() {
    let trigger = "{\n  \"form\": \"customer\",\n  \"when\": {\"event\": \"created\"},\n  \"actions\": [{\"notify\": \"owner\", \"message\": \"nope\"}]\n}";
    let out = checked(&[("pack.json", MANIFEST), ("forms/customer.json", CUSTOMER), ("scripts/tier.rhai", "\"A\""), ("triggers/hello.json", trigger)]);
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(out[0].starts_with("triggers/hello.json:4:"), "{out:?}");
    assert!(out[0].contains("nope"), "{out:?}");
}

#[test]
fn a_template_error_is_placed_at_its_line() {
    let out = checked(&[("pack.json", MANIFEST), ("messages/hi.jinja", "subject: 你好\n第一行\n{% if x %}没有结束")]);
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(out[0].starts_with("messages/hi.jinja:3:"), "{out:?}");
}

#[test]
fn manifest_and_layout_problems() {
    let out = checked(&[("pack.json", r#"{"name": "Mini Pack", "version": "one"}"#), ("stray.txt", "x"), ("forms/a/b.json", "{}")]);
    assert!(out.iter().any(|o| o.starts_with("pack.json:1:10:") && o.contains("pack name")), "{out:?}");
    assert!(out.iter().any(|o| o.starts_with("pack.json:1:34:") && o.contains("semantic version")), "{out:?}");
    assert!(out.iter().any(|o| o.starts_with("stray.txt:1:1:")), "{out:?}");
    assert!(out.iter().any(|o| o.starts_with("forms/a/b.json:")), "{out:?}");
    let out = checked(&[("forms/x.json", "{}")]);
    assert!(out[0].starts_with("pack.json:1:1: a pack needs a pack.json"), "{out:?}");
}

#[test]
fn an_unknown_key_is_placed_where_it_is() {
    let form = CUSTOMER.replace("\"title\": \"客户\",", "\"title\": \"客户\",\n  \"colour\": \"red\",");
    let out = checked(&[("pack.json", MANIFEST), ("forms/customer.json", &form), ("scripts/tier.rhai", "\"A\"")]);
    assert!(out[0].starts_with("forms/customer.json:3:13:") && out[0].contains("colour"), "{out:?}");
}

#[test]
fn migrations_are_named_by_versions_and_compile() {
    let m = r#"{"name": "mini", "version": "1.2.0"}"#;
    let p = read(&files(&[("pack.json", m), ("migrations/1.0.0-1.1.0.rhai", "record"), ("migrations/1.1.0-1.2.0.rhai", "record.b = record.a; record")])).unwrap();
    assert_eq!(check(&p, &|_| true), vec![]);
    let path: Vec<_> = p.migrations_from(&semver::Version::new(1, 1, 0)).iter().map(|m| m.file.clone()).collect();
    assert_eq!(path, vec!["migrations/1.1.0-1.2.0.rhai"]);
    assert_eq!(p.migrations_from(&semver::Version::new(1, 0, 0)).len(), 2);
    let out = checked(&[("pack.json", m), ("migrations/1.0.0-1.1.0.rhai", "record.b = ;")]);
    assert!(out[0].starts_with("migrations/1.0.0-1.1.0.rhai:1:"), "{out:?}");
    let out = checked(&[("pack.json", m), ("migrations/up.rhai", "record")]);
    assert!(out[0].contains("FROM-TO.rhai"), "{out:?}");
}

#[test]
fn roles_and_sample_data_are_checked() {
    let out = checked(&[
        ("pack.json", MANIFEST),
        ("forms/customer.json", CUSTOMER),
        ("scripts/tier.rhai", "\"A\""),
        ("roles.json", "{\"roles\": {\n  \"staff\": {\"title\": \"销售\"},\n  \"boss\": {\"title\": \"老板\"}\n}}"),
        ("data/customer.csv", "name,spend,colour\n张三,1,red\n"),
        ("data/order.csv", "x\n1\n"),
    ]);
    assert!(out.iter().any(|o| o.starts_with("roles.json:3:11:") && o.contains("boss")), "{out:?}");
    assert!(out.iter().any(|o| o.starts_with("data/customer.csv:1:12:") && o.contains("colour")), "{out:?}");
    assert!(out.iter().any(|o| o.starts_with("data/order.csv:1:1:")), "{out:?}");
    assert_eq!(out.len(), 3, "{out:?}");
}

#[test]
fn write_is_the_reverse_of_read() {
    let f = files(&[("pack.json", MANIFEST), ("forms/customer.json", CUSTOMER), ("scripts/tier.rhai", "\"A\""), ("messages/hi.jinja", "subject: 你好\n{{ record.name }}"), ("roles.json", r#"{"roles": {"staff": {"title": "销售"}}}"#)]);
    let p = read(&f).unwrap();
    let defs: Vec<_> = p.definitions.iter().map(|d| (d.kind.to_owned(), d.key.clone(), d.value.clone())).collect();
    let again = read(&write(&p.manifest, &defs)).unwrap();
    assert_eq!(again.definitions.iter().map(|d| (d.kind, &d.key, &d.value)).collect::<Vec<_>>(), p.definitions.iter().map(|d| (d.kind, &d.key, &d.value)).collect::<Vec<_>>());
}
