//! The template functions behave as Helm's (outputs checked against `helm template`
//! semantics as documented by Sprig and Helm).

use chart::{Error, render_str};
use serde_json::{Value, json};

fn r(text: &str, data: &Value) -> String {
    render_str(text, data).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn default_and_empty() {
    let d = json!({"s": "", "n": 0, "m": {}, "l": [], "b": false, "x": "set"});
    for key in ["s", "n", "m", "l", "b", "missing"] {
        assert_eq!(r(&format!("{{{{ default \"d\" .{key} }}}}"), &d), "d", "{key} is empty");
    }
    assert_eq!(r("{{ .x | default \"d\" }}", &d), "set");
    assert_eq!(r("{{ empty .s }} {{ empty .x }}", &d), "true false");
}

#[test]
fn required_refuses_nil_and_empty_strings_only() {
    for data in [json!({}), json!({"v": null}), json!({"v": ""})] {
        match render_str("{{ required \"v is needed\" .v }}", &data) {
            Err(Error::Template { message, .. }) => assert!(message.contains("v is needed"), "{message}"),
            other => panic!("{data}: {other:?}"),
        }
    }
    assert_eq!(r("{{ required \"m\" .v }}", &json!({"v": 0})), "0");
    assert_eq!(r("{{ required \"m\" .v }}", &json!({"v": "a"})), "a");
}

#[test]
fn quoting_and_strings() {
    let d = json!({"s": "say \"hi\"\n", "n": 8080, "list": ["a", "b"]});
    assert_eq!(r("{{ .s | quote }}", &d), r#""say \"hi\"\n""#);
    assert_eq!(r("{{ .n | quote }} {{ squote .n }}", &d), r#""8080" '8080'"#);
    assert_eq!(r("{{ quote .missing }}|", &d), "|");
    assert_eq!(r("{{ join \",\" .list }}", &d), "a,b");
    assert_eq!(r("{{ \"abcdef\" | trunc 3 }} {{ trunc -2 \"abcdef\" }} {{ trunc 10 \"ab\" }}", &d), "abc ef ab");
    assert_eq!(r("{{ \"name-\" | trimSuffix \"-\" }} {{ trimPrefix \"x\" \"xy\" }}", &d), "name y");
    assert_eq!(r("{{ \"1.0+build\" | replace \"+\" \"_\" }}", &d), "1.0_build");
    assert_eq!(r("{{ contains \"rs\" \"rs-x\" }} {{ hasPrefix \"a\" \"b\" }}", &d), "true false");
    assert_eq!(r("{{ printf \"%s-%d\" \"a\" 3 }} {{ upper \"a\" }}{{ lower \"B\" }}", &d), "a-3 Ab");
    assert_eq!(r("{{ toString .n }} {{ hasKey . \"n\" }} {{ hasKey . \"z\" }}", &d), "8080 true false");
}

#[test]
fn yaml_and_indentation() {
    let d = json!({"m": {"b": 1, "a": {"x": "y"}}, "l": [{"name": "r"}]});
    assert_eq!(r("{{ toYaml .m }}", &d), "a:\n  x: y\nb: 1", "sorted keys, no trailing newline");
    assert_eq!(r("k:{{ toYaml .l | nindent 2 }}", &d), "k:\n  - name: r");
    assert_eq!(r("{{ \"a\\nb\" | indent 3 }}", &d), "   a\n   b");
    assert_eq!(r("{{ toJson .m }}", &d), r#"{"a":{"x":"y"},"b":1}"#);
}

#[test]
fn include_nests_and_pipes() {
    let text = r#"{{- define "inner" -}}in:{{ . }}{{- end -}}
{{- define "outer" -}}[{{ include "inner" .v }}]{{- end -}}
"#;
    // A text made only of defines renders nothing; use them from a second template.
    assert_eq!(r(text, &json!({})), "");
    let with_call = format!("{text}{{{{ include \"outer\" . | upper }}}}");
    assert_eq!(r(&with_call, &json!({"v": "x"})), "[IN:X]");
    let missing = render_str("{{ include \"nope\" . }}", &json!({})).unwrap_err();
    assert!(missing.to_string().contains("no template \"nope\""), "{missing}");
}

#[test]
fn control_structures_the_chart_uses() {
    let d = json!({"on": true, "off": false, "ports": [1, 2], "m": {"k": "v"}, "empty": []});
    assert_eq!(r("{{ if and .on (not .off) }}y{{ else }}n{{ end }}", &d), "y");
    assert_eq!(r("{{ range .ports }}<{{ . }}>{{ end }}", &d), "<1><2>");
    assert_eq!(r("{{ with .m }}{{ .k }}{{ end }}", &d), "v");
    assert_eq!(r("{{ with .empty }}x{{ else }}none{{ end }}", &d), "none");
    assert_eq!(r("{{ with .m }}{{ $.on }}{{ end }}", &d), "true");
    assert_eq!(r("{{- $n := default \"a\" .missing }}{{ $n }}", &d), "a");
    assert_eq!(r("a\n  {{- \"b\" }}\n{{ \"c\" -}}\n  d", &d), "ab\ncd");
    assert_eq!(r("[{{ .missing }}]", &d), "[]", "<no value> is blanked, as Helm does");
}
