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
