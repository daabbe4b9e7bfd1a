//! The pages a person sees when a launch does not go through: Dutch or English (by
//! `Accept-Language`, Dutch when neither is asked for), with the code and request id to quote
//! to support, in the gateway's own layout or an operator's template.
//!
//! A template is an HTML file with these placeholders, each replaced by HTML-escaped text:
//! `{{lang}}` (`nl` or `en`), `{{title}}`, `{{heading}}`, `{{message}}`, `{{support}}` (the
//! sentence asking to quote the code and request id), `{{code}}`, `{{request_id}}` and
//! `{{logo_url}}` (empty without a logo). Nothing else in it is touched.

use std::path::Path;

/// A page's language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    /// Dutch: the default.
    Dutch,
    /// English.
    English,
}

impl Language {
    /// The language asked for by an `Accept-Language` value: the one of Dutch and English
    /// with the higher weight; Dutch when neither is named (or no header was sent).
    ///
    /// ```
    /// use koppeltaal_gateway::Language;
    /// assert_eq!(Language::from_accept_language(Some("en-GB,en;q=0.9,nl;q=0.8")), Language::English);
    /// assert_eq!(Language::from_accept_language(Some("de-DE,nl;q=0.5,en;q=0.7")), Language::English);
    /// assert_eq!(Language::from_accept_language(Some("fr, de")), Language::Dutch);
    /// assert_eq!(Language::from_accept_language(None), Language::Dutch);
    /// ```
    pub fn from_accept_language(header: Option<&str>) -> Language {
        let mut best = (Language::Dutch, -1.0f32);
        for entry in header.unwrap_or("").split(',').take(32) {
            let mut parts = entry.split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let weight = parts
                .find_map(|param| param.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let language = match tag.split('-').next() {
                Some("nl") => Language::Dutch,
                Some("en") => Language::English,
                _ => continue,
            };
            if weight > best.1 && weight > 0.0 {
                best = (language, weight);
            }
        }
        best.0
    }

    fn code(self) -> &'static str {
        match self {
            Language::Dutch => "nl",
            Language::English => "en",
        }
    }
}

/// What went wrong, as the person is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Situation {
    /// The launch was used before.
    Used,
    /// Expired, not yet valid, or inactive.
    NotValidNow,
    /// Meant for another module.
    OtherModule,
    /// A fault on this side that may pass.
    TryLater,
    /// Anything else the launch got wrong.
    NotVerified,
    /// Accepted, but the application could not be reached.
    ApplicationDown,
    /// Too much expensive work from this client.
    TooMany,
    /// A SHOF launch whose state is unknown (another browser, used, or expired).
    StartAgain,
}

impl Situation {
    /// The situation of a refused launch, by its kind.
    pub(crate) fn of(error: &koppeltaal_host::LaunchError) -> Situation {
        use koppeltaal_host::LaunchErrorKind as Kind;
        match error.kind() {
            Kind::Replayed => Situation::Used,
            Kind::NotValidNow => Situation::NotValidNow,
            Kind::OtherModule => Situation::OtherModule,
            Kind::Temporary => Situation::TryLater,
            Kind::Throttled => Situation::TooMany,
            Kind::StartAgain => Situation::StartAgain,
            _ => Situation::NotVerified,
        }
    }

    /// The message in `language`.
    pub(crate) fn message(self, language: Language) -> &'static str {
        use Language::{Dutch, English};
        match (self, language) {
            (Situation::Used, English) => {
                "This launch link has already been used. Please start the module again from your portal."
            }
            (Situation::Used, Dutch) => {
                "Deze startlink is al gebruikt. Start de module opnieuw vanuit uw portaal."
            }
            (Situation::NotValidNow, English) => {
                "This launch link is not valid at this time. Please start the module again from your portal."
            }
            (Situation::NotValidNow, Dutch) => {
                "Deze startlink is op dit moment niet geldig. Start de module opnieuw vanuit uw portaal."
            }
            (Situation::OtherModule, English) => "This launch was meant for a different module.",
            (Situation::OtherModule, Dutch) => "Deze start was bedoeld voor een andere module.",
            (Situation::TryLater, English) => {
                "The launch could not be checked just now. Please try again in a moment."
            }
            (Situation::TryLater, Dutch) => {
                "De start kon op dit moment niet worden gecontroleerd. Probeer het over een ogenblik opnieuw."
            }
            (Situation::NotVerified, English) => {
                "This launch could not be verified. Please start the module again from your portal."
            }
            (Situation::NotVerified, Dutch) => {
                "Deze start kon niet worden gecontroleerd. Start de module opnieuw vanuit uw portaal."
            }
            (Situation::ApplicationDown, English) => {
                "The module could not be reached just now. Please start it again from your portal in a moment."
            }
            (Situation::ApplicationDown, Dutch) => {
                "De module is op dit moment niet bereikbaar. Start hem over een ogenblik opnieuw vanuit uw portaal."
            }
            (Situation::TooMany, English) => {
                "Too many launches came from your connection just now. Please wait a minute and start the module again."
            }
            (Situation::TooMany, Dutch) => {
                "Er kwamen zojuist te veel starts van uw verbinding. Wacht een minuut en start de module opnieuw."
            }
            (Situation::StartAgain, English) => {
                "This launch could not be completed in this browser, or took too long. Please start the module again from your portal."
            }
            (Situation::StartAgain, Dutch) => {
                "Deze start kon in deze browser niet worden afgerond, of duurde te lang. Start de module opnieuw vanuit uw portaal."
            }
        }
    }
}

/// How pages are laid out: the gateway's own layout, or an operator's template.
#[derive(Clone, Debug, Default)]
pub struct Pages {
    template: Option<String>,
    logo_url: Option<String>,
}

impl Pages {
    /// The gateway's own layout, with `logo_url` shown above the message when given.
    pub fn new(logo_url: Option<String>) -> Pages {
        Pages {
            template: None,
            logo_url,
        }
    }

    /// An operator's template (see the module docs for its placeholders), read from `path`;
    /// a template without `{{code}}` or `{{request_id}}` is refused (the person must be able to
    /// quote them).
    pub fn from_template_file(path: &Path, logo_url: Option<String>) -> Result<Pages, String> {
        let template = std::fs::read_to_string(path)
            .map_err(|error| format!("--page-template {}: {error}", path.display()))?;
        Pages::from_template(template, logo_url)
    }

    /// An operator's template given as text.
    pub fn from_template(template: String, logo_url: Option<String>) -> Result<Pages, String> {
        if template.len() > 256 * 1024 {
            return Err("the page template is larger than 256 KiB".into());
        }
        if !(template.contains("{{code}}") || template.contains("{{support}}"))
            || !(template.contains("{{request_id}}") || template.contains("{{support}}"))
        {
            return Err(
                "the page template must show {{code}} and {{request_id}} (or {{support}})".into(),
            );
        }
        Ok(Pages {
            template: Some(template),
            logo_url,
        })
    }

    /// The page for `situation` in `language`, quoting `code` and `request_id`.
    pub(crate) fn render(
        &self,
        situation: Situation,
        language: Language,
        code: u16,
        request_id: &str,
    ) -> String {
        let (title, heading) = match language {
            Language::Dutch => ("Start niet gelukt", "De module kon niet worden gestart"),
            Language::English => ("Launch refused", "The module could not be started"),
        };
        let support = match language {
            Language::Dutch => format!(
                "Blijft dit gebeuren? Neem contact op met de helpdesk en noem code {code} en verzoeknummer {request_id}."
            ),
            Language::English => format!(
                "If this keeps happening, contact support and quote code {code} and request id {request_id}."
            ),
        };
        let message = situation.message(language);
        let logo = self.logo_url.as_deref().unwrap_or("");
        let code = code.to_string();
        let fields: [(&str, &str); 8] = [
            ("{{lang}}", language.code()),
            ("{{title}}", title),
            ("{{heading}}", heading),
            ("{{message}}", message),
            ("{{support}}", &support),
            ("{{code}}", &code),
            ("{{request_id}}", request_id),
            ("{{logo_url}}", logo),
        ];
        match &self.template {
            Some(template) => fill(template, &fields),
            None => {
                let logo = match logo.is_empty() {
                    true => String::new(),
                    false => format!(
                        "<img src=\"{}\" alt=\"\" style=\"max-height:4em\">\n",
                        escape_html(logo)
                    ),
                };
                format!(
                    "<!doctype html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">\
                     <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
                     <title>{}</title>\n<style>body{{font-family:system-ui,sans-serif;max-width:36em;margin:3em auto;padding:0 1em;color:#1a1a1a;line-height:1.5}}\
                     h1{{font-size:1.5em}}.support{{color:#555;font-size:.95em}}code{{background:#f2f2f2;padding:.1em .3em}}</style></head>\n\
                     <body>{logo}<h1>{}</h1>\n<p>{}</p>\n<p class=\"support\">{}</p></body></html>\n",
                    language.code(),
                    escape_html(title),
                    escape_html(heading),
                    escape_html(message),
                    escape_html(&support),
                )
            }
        }
    }
}

/// `template` with each placeholder replaced by its escaped value, in one pass (a value that
/// looks like a placeholder is not expanded again).
fn fill(template: &str, fields: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 512);
    let mut rest = template;
    while let Some(at) = rest.find("{{") {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        match fields.iter().find(|(name, _)| tail.starts_with(name)) {
            Some((name, value)) => {
                out.push_str(&escape_html(value));
                rest = &tail[name.len()..];
            }
            None => {
                out.push_str("{{");
                rest = &tail[2..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `text` safe in HTML text and in quoted attribute values.
pub(crate) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use koppeltaal_core::Error;
    use koppeltaal_host::{HostError, LaunchError};

    #[test]
    fn every_kind_of_refusal_has_its_situation_and_the_same_english_sentence() {
        let cases: [(LaunchError, Situation); 7] = [
            (Error::Replayed.into(), Situation::Used),
            (Error::ExpiresBeforeIssued.into(), Situation::NotValidNow),
            (Error::WrongAudience.into(), Situation::OtherModule),
            (HostError::Timeout.into(), Situation::TryLater),
            (Error::BadSignature.into(), Situation::NotVerified),
            (HostError::UnknownState.into(), Situation::StartAgain),
            (HostError::Throttled.into(), Situation::TooMany),
        ];
        for (error, situation) in cases {
            assert_eq!(Situation::of(&error), situation, "{error}");
            assert_eq!(situation.message(Language::English), error.user_message());
        }
    }

    #[test]
    fn pages_quote_code_and_request_id_in_either_language() {
        let pages = Pages::default();
        let dutch = pages.render(Situation::Used, Language::Dutch, 600, "req-1");
        assert!(
            dutch.contains("lang=\"nl\"") && dutch.contains("al gebruikt"),
            "{dutch}"
        );
        assert!(
            dutch.contains("code 600") && dutch.contains("req-1"),
            "{dutch}"
        );
        let english = pages.render(Situation::Used, Language::English, 600, "req-1");
        assert!(english.contains("already been used") && english.contains("req-1"));
    }

    #[test]
    fn templates_are_filled_escaped_and_checked() {
        let pages = Pages::from_template(
            "<html lang={{lang}}><img src=\"{{logo_url}}\"><p>{{message}}</p><b>{{code}}</b> {{request_id}} {{unknown}}".into(),
            Some("https://x/logo.png?a=1&b=\"2\"".into()),
        )
        .unwrap();
        let page = pages.render(Situation::TooMany, Language::English, 429, "<script>");
        assert!(
            page.contains("<b>429</b> &lt;script&gt; {{unknown}}"),
            "{page}"
        );
        assert!(page.contains("logo.png?a=1&amp;b=&quot;2&quot;"), "{page}");
        assert!(Pages::from_template("<p>{{message}}</p>".into(), None).is_err());
    }
}
