// French by default, English on request; the choice is kept in this browser only.
const STRINGS = {
  fr: {
    skip: "Aller au contenu",
    brand: "Data Pôle — tiers de confiance",
    nav_home: "Accueil",
    nav_explorer: "Explorer",
    switch_lang: "English",
    switch_lang_label: "Switch to English",
    home_title: "Un registre public et vérifiable",
    home_intro: "Ce Data Pôle est un tiers de confiance régional. Les entreprises, hôpitaux et organismes publics y font horodater leurs dépôts de jeux de données ; les consentements des citoyens et chaque accès à leurs données y sont enregistrés. Tout est inscrit dans un journal en ajout seul (un arbre de Merkle signé) : chacun peut vérifier qu'une inscription y figure et que le journal n'a jamais été réécrit, sans faire confiance à l'opérateur.",
    home_private: "Aucune donnée personnelle n'est publiée : le journal ne contient, pour les consentements et les accès, que des engagements cryptographiques.",
    status_title: "État du journal",
    status_loading: "Chargement…",
    status_error: "Le journal ne répond pas : ",
    origin: "Origine",
    size: "Nombre d'inscriptions",
    root: "Racine de l'arbre",
    vkey: "Clé de vérification",
    fetched: "Lu à",
    witnesses_title: "Témoins",
    witnesses_none: "Aucun témoin n'est configuré pour ce journal.",
    witnesses_quorum: "Signatures de témoins exigées",
    witness: "Témoin",
    witness_size: "Taille cosignée",
    witness_cosigned_at: "Cosigné le",
    witness_failures: "Échecs",
    links_title: "Aller plus loin",
    link_explorer: "Explorer le journal et vérifier si un fichier a été déposé",
    footer: "Journal conforme à c2sp.org/tlog-tiles ; reçus vérifiables hors ligne avec « datapole verify ».",
    explorer_title: "Explorer le journal",
    latest_title: "Dernières inscriptions",
    index: "N°",
    type: "Type",
    time: "Date",
    detail: "Détail",
    entry_title: "Une inscription par son numéro",
    entry_label: "Numéro de l'inscription",
    show: "Afficher",
    sha_title: "Dépôts d'un contenu (SHA-256)",
    sha_label: "Empreinte SHA-256 (64 caractères hexadécimaux)",
    search: "Rechercher",
    file_title: "Ce fichier a-t-il été déposé ?",
    file_intro: "Votre navigateur calcule l'empreinte du fichier ; le fichier lui-même n'est envoyé nulle part.",
    file_label: "Choisir un fichier",
    file_hash: "Empreinte SHA-256 du fichier",
    found: "Déposé",
    not_found: "Aucun dépôt de ce contenu n'est inscrit au journal.",
    deposits_of: "Dépôts de ce contenu",
    dataset: "Jeu de données",
    version: "Version",
    depositor: "Déposant",
    visibility: "Visibilité",
    deposited_at: "Déposé le",
    error: "Erreur : ",
    none_yet: "Le journal est encore vide.",
    nav_verify: "Vérifier un reçu",
    verify_title: "Vérifier un reçu",
    verify_intro: "Déposez ou collez un reçu (dépôt, consentement, retrait, accès). Votre navigateur vérifie lui-même les signatures et les preuves, sans rien envoyer : vous n'avez pas à croire le serveur sur parole.",
    receipt_file: "Fichier du reçu",
    receipt_paste: "Ou collez le reçu",
    pinned_key: "Clé du journal (facultatif)",
    verify_button: "Vérifier",
    result_title: "Résultat",
    live_button: "Comparer avec le journal en ligne",
    not_json: "Ce n'est pas un reçu (le texte n'est pas du JSON).",
    check_ok: "vérifié :",
    check_failed: "échec :",
    receipt_valid: "Reçu authentique : toutes les vérifications réussissent.",
    receipt_invalid: "Reçu non valide : au moins une vérification échoue.",
    means_format: "Le document est un reçu datapole.",
    means_log_key: "Le reçu désigne bien la clé du journal que vous avez indiquée.",
    means_checkpoint: "L'état du journal cité par le reçu a été signé par la clé du journal.",
    means_inclusion: "L'inscription figure dans le journal à cet état : elle ne peut plus en être retirée sans que cela se voie.",
    means_commitment: "Le document privé joint au reçu est exactement celui que le journal a scellé.",
    means_statement_signature: "La déclaration a été signée par l'organisme qui l'a déposée.",
    means_statement_matches: "La déclaration signée correspond à ce qui est inscrit au journal.",
    means_statement: "Le reçu et l'inscription doivent concorder.",
    live_other_log: "le journal en ligne est un autre journal",
    live_ok: "Le journal en ligne prolonge l'état cité par le reçu : rien n'a été réécrit",
    live_bad: "Le journal en ligne ne prolonge pas l'état cité par le reçu : il a été réécrit ou ce reçu vient d'une autre version.",
    link_verify: "Vérifier un reçu dans votre navigateur",
  },
  en: {
    skip: "Skip to content",
    brand: "Data Pôle — trusted third party",
    nav_home: "Home",
    nav_explorer: "Explorer",
    switch_lang: "Français",
    switch_lang_label: "Passer en français",
    home_title: "A public, verifiable register",
    home_intro: "This Data Pôle is a regional trusted third party. Companies, hospitals and public bodies have their dataset deposits time-stamped here; citizens' consents and every access to their data are recorded here. Everything goes into an append-only log (a signed Merkle tree): anyone can check that an entry is in it and that the log was never rewritten, without trusting the operator.",
    home_private: "No personal data is published: for consents and accesses the log holds only cryptographic commitments.",
    status_title: "Log status",
    status_loading: "Loading…",
    status_error: "The log does not answer: ",
    origin: "Origin",
    size: "Entries",
    root: "Tree root",
    vkey: "Verifier key",
    fetched: "Read at",
    witnesses_title: "Witnesses",
    witnesses_none: "No witness is configured for this log.",
    witnesses_quorum: "Witness signatures required",
    witness: "Witness",
    witness_size: "Size cosigned",
    witness_cosigned_at: "Cosigned at",
    witness_failures: "Failures",
    links_title: "Go further",
    link_explorer: "Explore the log and check whether a file was deposited",
    footer: "A c2sp.org/tlog-tiles log; receipts can be verified offline with “datapole verify”.",
    explorer_title: "Explore the log",
    latest_title: "Latest entries",
    index: "No.",
    type: "Type",
    time: "Date",
    detail: "Detail",
    entry_title: "An entry by its number",
    entry_label: "Entry number",
    show: "Show",
    sha_title: "Deposits of a content (SHA-256)",
    sha_label: "SHA-256 digest (64 hexadecimal characters)",
    search: "Search",
    file_title: "Was this file deposited?",
    file_intro: "Your browser computes the file's digest; the file itself is sent nowhere.",
    file_label: "Choose a file",
    file_hash: "SHA-256 of the file",
    found: "Deposited",
    not_found: "No deposit of this content is in the log.",
    deposits_of: "Deposits of this content",
    dataset: "Dataset",
    version: "Version",
    depositor: "Depositor",
    visibility: "Visibility",
    deposited_at: "Deposited at",
    error: "Error: ",
    none_yet: "The log is still empty.",
    nav_verify: "Verify a receipt",
    verify_title: "Verify a receipt",
    verify_intro: "Drop or paste a receipt (deposit, consent, withdrawal, access). Your browser checks the signatures and proofs itself and sends nothing: you do not have to take the server's word.",
    receipt_file: "Receipt file",
    receipt_paste: "Or paste the receipt",
    pinned_key: "Log key (optional)",
    verify_button: "Verify",
    result_title: "Result",
    live_button: "Compare with the live log",
    not_json: "This is not a receipt (the text is not JSON).",
    check_ok: "verified:",
    check_failed: "failed:",
    receipt_valid: "Genuine receipt: every check passes.",
    receipt_invalid: "Invalid receipt: at least one check fails.",
    means_format: "The document is a datapole receipt.",
    means_log_key: "The receipt names the log key you gave.",
    means_checkpoint: "The log state the receipt cites was signed with the log's key.",
    means_inclusion: "The entry is in the log at that state: it cannot be removed without it showing.",
    means_commitment: "The private document in the receipt is exactly the one the log sealed.",
    means_statement_signature: "The statement was signed by the organisation that filed it.",
    means_statement_matches: "The signed statement matches what the log recorded.",
    means_statement: "The receipt and the entry must agree.",
    live_other_log: "the live log is another log",
    live_ok: "The live log extends the state the receipt cites: nothing was rewritten",
    live_bad: "The live log does not extend the state the receipt cites: it was rewritten, or this receipt comes from another version.",
    link_verify: "Verify a receipt in your browser",
  },
};

/** The language in use: "fr" unless this browser chose English. */
export function lang() {
  try {
    return localStorage.getItem("datapole.lang") === "en" ? "en" : "fr";
  } catch {
    return "fr";
  }
}

/** The text of `key` in the language in use. */
export function t(key) {
  return STRINGS[lang()][key] ?? STRINGS.fr[key] ?? key;
}

/** Fills every `data-i18n` element, sets the document language and wires the switch. */
export function apply(onChange) {
  document.documentElement.lang = lang();
  for (const el of document.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
  const button = document.getElementById("lang-switch");
  if (button) {
    button.textContent = t("switch_lang");
    button.setAttribute("aria-label", t("switch_lang_label"));
    button.lang = lang() === "fr" ? "en" : "fr";
    button.onclick = () => {
      try {
        localStorage.setItem("datapole.lang", lang() === "fr" ? "en" : "fr");
      } catch {
        // Private mode: the switch lasts for this page only.
      }
      apply(onChange);
      if (onChange) onChange();
    };
  }
}
