//! `docs/reference/crds.md`: the API reference rendered from the generated CRDs, the
//! same schemas the API server validates with. One table per kind lists every field
//! path with its type, whether it is required, its description and its constraints
//! (enum values, default, length/range/pattern, list semantics, CEL rules).

use std::fmt::Write as _;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::Value;

/// Where the reference is committed, relative to the workspace root.
pub const PATH: &str = "docs/reference/crds.md";

/// The whole reference document.
pub fn render(crds: &[(&str, CustomResourceDefinition)]) -> anyhow::Result<String> {
    let mut out = format!(
        "<!-- Generated from crates/api by `{}`. Do not edit. -->\n\n\
         # CRD reference (`{}`)\n\n\
         Every field of the three custom resources, rendered from the CRD schemas under\n\
         `crds/` (which the API server enforces). Paths are relative to the object; `[]`\n\
         marks the items of a list. `kubectl explain <kind>.<path>` shows the same\n\
         descriptions. Status fields are written by the operator only.\n\n",
        crate::GEN_DOCS_COMMAND,
        regionstack_api::API_VERSION
    );
    for (_, crd) in crds {
        let kind = &crd.spec.names.kind;
        writeln!(out, "- [{kind}](#{})", kind.to_lowercase())?;
    }
    writeln!(out, "- [Reason codes](#reason-codes)")?;
    for (file, crd) in crds {
        render_crd(&mut out, file, crd)?;
    }
    render_reason_codes(&mut out)?;
    Ok(out)
}

/// The stable reason codes (DESIGN §4) with their descriptions, from the schema of
/// [`regionstack_api::ReasonCode`].
fn render_reason_codes(out: &mut String) -> anyhow::Result<()> {
    writeln!(
        out,
        "\n## Reason codes\n\n\
         The stable reason codes of `status.conditions[].reason`, `status.violations[].code`,\n\
         Events and `regionstack check`. Codes may be added, none is ever renamed. Conditions\n\
         also carry progress and error reasons of the operator (`Reconciled`, `Compliant`,\n\
         `Provisioning`, `SecretMissing`, `SlotLost`, …), listed with their Argo CD health in\n\
         [docs/argocd/README.md](../argocd/README.md).\n\n\
         | code | meaning | decidable offline (`regionstack check`) |\n| --- | --- | --- |"
    )?;
    let schema = serde_json::to_value(schemars::schema_for!(regionstack_api::ReasonCode))?;
    let variants = schema.get("oneOf").and_then(Value::as_array).cloned().unwrap_or_default();
    for code in regionstack_api::ReasonCode::ALL {
        let description = variants
            .iter()
            .find(|v| v.get("const").and_then(Value::as_str) == Some(code.as_str()))
            .and_then(|v| v.get("description").and_then(Value::as_str))
            .ok_or_else(|| anyhow::anyhow!("reason code {code} has no description in its schema"))?;
        let offline = if code.offline_decidable() { "yes" } else { "no" };
        writeln!(
            out,
            "| `{code}` | {} | {offline} |",
            cell(&description.split_whitespace().collect::<Vec<_>>().join(" "))
        )?;
    }
    Ok(())
}

fn render_crd(out: &mut String, file: &str, crd: &CustomResourceDefinition) -> anyhow::Result<()> {
    let names = &crd.spec.names;
    writeln!(out, "\n## {}\n", names.kind)?;
    let short = names.short_names.as_deref().unwrap_or_default().join(", ");
    let categories = names.categories.as_deref().unwrap_or_default().join(", ");
    writeln!(out, "| | |\n| --- | --- |")?;
    writeln!(out, "| API version | `{}/{}` |", crd.spec.group, crd.spec.versions[0].name)?;
    writeln!(out, "| scope | {} |", crd.spec.scope)?;
    writeln!(out, "| plural, short names | `{}`, `{short}` |", names.plural)?;
    writeln!(out, "| categories | `{categories}` |")?;
    writeln!(out, "| CRD | [`crds/{file}`](../../crds/{file}) |")?;
    for version in &crd.spec.versions {
        let schema = version
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .ok_or_else(|| anyhow::anyhow!("{} {} has no schema", names.kind, version.name))?;
        let schema = serde_json::to_value(schema)?;
        if let Some(description) = schema.get("description").and_then(Value::as_str) {
            writeln!(out, "\n{}", description.trim())?;
        }
        if let Some(columns) = &version.additional_printer_columns {
            writeln!(out, "\n`kubectl get` columns (`-o wide` adds those of priority 1):\n")?;
            writeln!(out, "| column | type | JSONPath | priority |\n| --- | --- | --- | --- |")?;
            for c in columns {
                writeln!(
                    out,
                    "| {} | {} | `{}` | {} |",
                    c.name,
                    c.type_,
                    cell(&c.json_path),
                    c.priority.unwrap_or_default()
                )?;
            }
        }
        for top in ["spec", "status"] {
            let Some(node) = schema.pointer(&format!("/properties/{top}")) else { continue };
            writeln!(out, "\n### {} `.{top}`\n", names.kind)?;
            if let Some(rules) = rules_of(node) {
                writeln!(out, "Rules on `.{top}` itself: {rules}\n")?;
            }
            writeln!(out, "| field | type | required | description |\n| --- | --- | --- | --- |")?;
            walk(out, &format!(".{top}"), node)?;
        }
    }
    Ok(())
}

/// One row per property below `node`, depth first, in schema (alphabetical) order.
fn walk(out: &mut String, path: &str, node: &Value) -> anyhow::Result<()> {
    let (node, path) = match node.get("items") {
        Some(items) if node.get("type").and_then(Value::as_str) == Some("array") => (items, format!("{path}[]")),
        _ => (node, path.to_owned()),
    };
    let Some(properties) = node.get("properties").and_then(Value::as_object) else { return Ok(()) };
    let required: Vec<&str> =
        node.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    for (name, child) in properties {
        let child_path = format!("{path}.{name}");
        let description = child.get("description").and_then(Value::as_str).unwrap_or("").trim();
        let mut text = description.split_whitespace().collect::<Vec<_>>().join(" ");
        let constraints = constraints(child);
        if !constraints.is_empty() {
            if !text.is_empty() {
                text.push_str("<br>");
            }
            text.push_str(&constraints.join("<br>"));
        }
        let req = if required.contains(&name.as_str()) { "yes" } else { "" };
        writeln!(out, "| `{}` | {} | {req} | {} |", child_path, type_of(child), cell(&text))?;
        walk(out, &child_path, child)?;
    }
    Ok(())
}

/// `string`, `integer (int32)`, `[]object`, `object`, … plus `, nullable`.
fn type_of(node: &Value) -> String {
    let base = |n: &Value| {
        let t = n.get("type").and_then(Value::as_str).unwrap_or("any").to_owned();
        match n.get("format").and_then(Value::as_str) {
            Some(f) => format!("{t} ({f})"),
            None => t,
        }
    };
    let t = match (node.get("type").and_then(Value::as_str), node.get("items")) {
        (Some("array"), Some(items)) => format!("[]{}", base(items)),
        _ => base(node),
    };
    if node.get("nullable").and_then(Value::as_bool) == Some(true) { format!("{t}, nullable") } else { t }
}

/// Human-readable constraints of one schema node (and of its items, for lists).
fn constraints(node: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let items = node.get("items");
    for n in std::iter::once(node).chain(items) {
        let of_items = !std::ptr::eq(n, node);
        let prefix = if of_items { "items: " } else { "" };
        if let Some(values) = n.get("enum").and_then(Value::as_array) {
            let values: Vec<String> = values.iter().map(|v| format!("`{}`", plain(v))).collect();
            out.push(format!("{prefix}one of {}", values.join(", ")));
        }
        if let Some(default) = n.get("default") {
            out.push(format!("{prefix}default `{}`", plain(default)));
        }
        for (key, label) in [
            ("minLength", "min length"),
            ("maxLength", "max length"),
            ("minimum", "minimum"),
            ("maximum", "maximum"),
            ("minItems", "min items"),
            ("maxItems", "max items"),
        ] {
            if let Some(v) = n.get(key).and_then(Value::as_f64) {
                out.push(format!("{prefix}{label} {}", number(v)));
            }
        }
        if let Some(p) = n.get("pattern").and_then(Value::as_str) {
            out.push(format!("{prefix}pattern `{p}`"));
        }
        if of_items && let Some(rules) = rules_of(n) {
            out.push(format!("items: {rules}"));
        }
    }
    match node.get("x-kubernetes-list-type").and_then(Value::as_str) {
        Some("set") => out.push("list type `set` (no duplicates)".into()),
        Some("map") => {
            let keys: Vec<String> = node
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|k| format!("`{k}`"))
                .collect();
            out.push(format!("list type `map`, keyed by {}", keys.join(", ")));
        }
        Some(other) => out.push(format!("list type `{other}`")),
        None => {}
    }
    if let Some(rules) = rules_of(node) {
        out.push(rules);
    }
    out
}

/// The CEL rules of a node as `rule `...`: message; ...`.
fn rules_of(node: &Value) -> Option<String> {
    let rules = node.get("x-kubernetes-validations")?.as_array()?;
    let rendered: Vec<String> = rules
        .iter()
        .map(|r| {
            let rule = r.get("rule").and_then(Value::as_str).unwrap_or_default();
            let message = r.get("message").and_then(Value::as_str).unwrap_or("(no message)");
            match r.get("fieldPath").and_then(Value::as_str) {
                Some(field) => format!("CEL `{rule}` (on `{field}`): {message}"),
                None => format!("CEL `{rule}`: {message}"),
            }
        })
        .collect();
    (!rendered.is_empty()).then(|| rendered.join("<br>"))
}

/// A JSON value as written in a manifest: strings unquoted.
fn plain(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

/// `9.0` → `9`, `-6.0` → `-6`.
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        #[allow(clippy::cast_possible_truncation)]
        let i = v as i64;
        i.to_string()
    } else {
        v.to_string()
    }
}

/// Text safe inside a Markdown table cell: pipes escaped, no line breaks.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
