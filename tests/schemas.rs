//! The committed JSON Schemas under `schemas/` are the ones the Rust types generate. To
//! regenerate after an intended change: `DATAPOLE_WRITE_SCHEMAS=1 cargo test --test schemas`.

use std::path::Path;

#[test]
fn committed_schemas_match_the_types() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let write = std::env::var_os("DATAPOLE_WRITE_SCHEMAS").is_some();
    let mut drifted = Vec::new();
    let schemas = datapole::schemas::all();
    for (name, schema) in &schemas {
        let text = serde_json::to_string_pretty(schema).unwrap() + "\n";
        let path = dir.join(name);
        if write {
            std::fs::write(&path, &text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            drifted.push(name.to_string());
        }
    }
    assert!(
        drifted.is_empty(),
        "schemas differ from the types: {drifted:?}; run DATAPOLE_WRITE_SCHEMAS=1 cargo test --test schemas and review the diff"
    );
    // No stray schema files either.
    let mut committed: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".schema.json"))
        .collect();
    committed.sort();
    let mut expected: Vec<String> = schemas.iter().map(|(n, _)| n.to_string()).collect();
    expected.sort();
    assert_eq!(committed, expected);
}

#[test]
fn a_real_participant_leaf_fits_its_schema_shape() {
    // The schema names exactly the fields a leaf has, all required.
    let schema = datapole::schemas::all()
        .into_iter()
        .find(|(n, _)| *n == "participant-leaf.schema.json")
        .unwrap()
        .1;
    let mut required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    required.sort_unstable();
    assert_eq!(
        required,
        [
            "id",
            "name",
            "public_key",
            "registered_at",
            "roles",
            "type",
            "v"
        ]
    );
    assert_eq!(schema["additionalProperties"], false);
}
