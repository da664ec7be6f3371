use super::*;
use crate::api::StrictJson;

fn element_value(items: &Json, ns: &str, id: &str) -> Value {
    let elements = parse_items_to_sign(items, &LIMITS).unwrap();
    let (_, list) = elements.namespaces.iter().find(|(n, _)| n == ns).unwrap();
    list.iter()
        .find(|e| e.identifier == id)
        .unwrap()
        .value
        .clone()
}

#[test]
fn element_values_are_encoded_by_type() {
    let items = items();
    let tag = |t: u64, s: &str| Value::Tag(t, Box::new(Value::Text(s.into())));
    let get = |id: &str| element_value(&items, MDL_NS, id);
    assert_eq!(get("family_name"), Value::Text("Doe".into()));
    assert_eq!(get("age_over_18"), Value::Bool(true));
    assert_eq!(encode(&get("height")), [0x18, 0xaa]);
    assert_eq!(get("weight"), Value::Float(70.5));
    assert_eq!(get("birth_date"), tag(1004, "1990-01-31"));
    assert_eq!(
        encode(&get("birth_date"))[..3],
        [0xd9, 0x03, 0xec],
        "tag 1004, RFC 8943"
    );
    assert_eq!(get("portrait_capture_date"), tag(0, "2026-02-20T08:00:00Z"));
    assert_eq!(get("portrait"), Value::Bytes(portrait()));
    let dp = get("driving_privileges");
    let first = &dp.as_array().unwrap()[0];
    assert_eq!(
        map_get(first, "vehicle_category_code"),
        &Value::Text("B".into())
    );
    assert_eq!(map_get(first, "issue_date"), &tag(1004, "2018-08-09"));
    assert_eq!(map_get(first, "expiry_date"), &tag(1004, "2028-08-09"));
    let codes = map_get(first, "codes").as_array().unwrap();
    assert_eq!(map_get(&codes[0], "sign"), &Value::Text("<".into()));
    assert_eq!(codes[1].as_map().unwrap().len(), 1);
    assert_eq!(dp.as_array().unwrap()[1].as_map().unwrap().len(), 1);
    let negative = json!({"ns": {"n": {"type": "number", "value": -3}}});
    assert_eq!(element_value(&negative, "ns", "n"), Value::from(-3));
}

#[test]
fn element_refusals_name_the_field() {
    let el = |ty: Json, value: Json| json!({"ns": {"el": {"type": ty, "value": value}}});
    let field = |items: Json| {
        let err = parse_items_to_sign(&items, &LIMITS).unwrap_err();
        assert!(err.is_client_error());
        err.field().unwrap().to_string()
    };
    let at = "payload.itemsToSign.ns.el";
    assert_eq!(field(el(json!("uuid"), json!("x"))), format!("{at}.type"));
    assert_eq!(field(el(json!(7), json!("x"))), format!("{at}.type"));
    for (ty, value) in [
        ("string", json!(1)),
        ("number", json!("1")),
        ("boolean", json!("true")),
        ("full-date", json!("1990-02-30")),
        ("full-date", json!("1990-01-31T00:00:00Z")),
        ("date-time", json!("2026-02-20T10:00:00.5Z")),
        ("date-time", json!("2026-02-20")),
        ("bytes", json!("not base64!")),
        ("bytes", json!("-_-_")),
        ("image", json!("AAE")),
        (
            DRIVING_PRIVILEGES_TYPE,
            json!({"vehicle_category_code": "B"}),
        ),
    ] {
        assert_eq!(
            field(el(json!(ty), value.clone())),
            format!("{at}.value"),
            "{ty} {value}"
        );
    }
    for (privilege, sub) in [
        (json!({}), "[0].vehicle_category_code"),
        (
            json!({"vehicle_category_code": ""}),
            "[0].vehicle_category_code",
        ),
        (json!({"vehicle_category_code": "B", "x": 1}), "[0].x"),
        (
            json!({"vehicle_category_code": "B", "issue_date": "2018-13-01"}),
            "[0].issue_date",
        ),
        (
            json!({"vehicle_category_code": "B", "issue_date": "2018-08-09", "expiry_date": "2018-08-08"}),
            "[0].expiry_date",
        ),
        (
            json!({"vehicle_category_code": "B", "codes": []}),
            "[0].codes",
        ),
        (
            json!({"vehicle_category_code": "B", "codes": [{"sign": "<"}]}),
            "[0].codes[0].code",
        ),
        (
            json!({"vehicle_category_code": "B", "codes": [{"code": "78", "value": 1}]}),
            "[0].codes[0].value",
        ),
        (json!("B"), "[0]"),
    ] {
        let items = el(json!(DRIVING_PRIVILEGES_TYPE), json!([privilege]));
        assert_eq!(field(items), format!("{at}.value{sub}"), "{sub}");
    }
    // The element's own shape.
    assert_eq!(field(json!({"ns": {"el": "Doe"}})), at);
    assert_eq!(
        field(json!({"ns": {"el": {"value": 1}}})),
        format!("{at}.type")
    );
    assert_eq!(
        field(json!({"ns": {"el": {"type": "string"}}})),
        format!("{at}.value")
    );
    assert_eq!(
        field(json!({"ns": {"el": {"type": "string", "value": "x", "extra": 1}}})),
        format!("{at}.extra")
    );
    // Namespaces and identifiers.
    let ok = json!({"type": "string", "value": "x"});
    assert_eq!(field(json!({"": {"el": ok}})), "payload.itemsToSign.");
    assert_eq!(field(json!({"ns": {"": ok}})), "payload.itemsToSign.ns.");
    assert_eq!(field(json!({"ns": {}})), "payload.itemsToSign.ns");
    assert_eq!(field(json!({"ns": []})), "payload.itemsToSign.ns");
    assert_eq!(field(json!({})), "payload.itemsToSign");
    assert_eq!(field(json!([])), "payload.itemsToSign");
}

#[test]
fn element_limits_are_the_callers() {
    let items = items();
    let count = parse_items_to_sign(&items, &LIMITS).unwrap().len();
    assert_eq!(count, 10);
    let few = Limits {
        max_elements: count - 1,
        ..LIMITS
    };
    let err = parse_items_to_sign(&items, &few).unwrap_err();
    assert!(matches!(err, CoseError::TooLarge { .. }), "{err}");
    assert_eq!(err.field(), Some("payload.itemsToSign"));
    assert!(
        parse_items_to_sign(
            &items,
            &Limits {
                max_elements: count,
                ..LIMITS
            }
        )
        .is_ok()
    );

    let big = json!({"ns": {
        "a": {"type": "string", "value": "x".repeat(60)},
        "b": {"type": "bytes", "value": Base64::encode_string(&[7u8; 60])}
    }});
    let small = Limits {
        max_bytes: 100,
        ..LIMITS
    };
    let err = parse_items_to_sign(&big, &small).unwrap_err();
    assert!(matches!(err, CoseError::TooLarge { .. }), "{err}");
    assert_eq!(err.field(), Some("payload.itemsToSign.ns.b"));
}

#[test]
fn strict_json_refuses_duplicate_keys() {
    let text = r#"{"ns": {"el": {"type": "string", "value": "a"}, "el": {"type": "string", "value": "b"}}}"#;
    // serde_json keeps the last one without a word...
    let lax: Json = serde_json::from_str(text).unwrap();
    assert_eq!(lax["ns"].as_object().unwrap().len(), 1);
    // ...StrictJson refuses, and serde_path_to_error says where.
    let de = &mut serde_json::Deserializer::from_str(text);
    let err = serde_path_to_error::deserialize::<_, StrictJson>(de).unwrap_err();
    assert!(err.to_string().contains("duplicate key `el`"), "{err}");
    assert_eq!(err.path().to_string(), "ns");
    let StrictJson(v) = serde_json::from_str(&items().to_string()).unwrap();
    assert_eq!(v, items());
    let StrictJson(v) = serde_json::from_str(r#"[1, -2, 2.5, null, true, "s", [], {}]"#).unwrap();
    assert_eq!(v, json!([1, -2, 2.5, null, true, "s", [], {}]));
}
