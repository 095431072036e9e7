//! The device's profile as the app reports it: the time zone and country the server
//! needs to send in the user's local time and respect local quiet hours.

use crate::common::FieldError;
use crate::text::quote;

/// The officially assigned ISO 3166-1 alpha-2 codes (as listed in the tz database's
/// `iso3166.tab`), sorted, two letters each.
const ISO_3166_ALPHA_2: &str = "\
ADAEAFAGAIALAMAOAQARASATAUAWAXAZBABBBDBEBFBGBHBIBJBLBMBNBOBQBRBSBTBVBWBYBZCACCCDCFCG\
CHCICKCLCMCNCOCRCUCVCWCXCYCZDEDJDKDMDODZECEEEGEHERESETFIFJFKFMFOFRGAGBGDGEGFGGGHGIGL\
GMGNGPGQGRGSGTGUGWGYHKHMHNHRHTHUIDIEILIMINIOIQIRISITJEJMJOJPKEKGKHKIKMKNKPKRKWKYKZLA\
LBLCLILKLRLSLTLULVLYMAMCMDMEMFMGMHMKMLMMMNMOMPMQMRMSMTMUMVMWMXMYMZNANCNENFNGNINLNONP\
NRNUNZOMPAPEPFPGPHPKPLPMPNPRPSPTPWPYQARERORSRURWSASBSCSDSESGSHSISJSKSLSMSNSOSRSSSTSV\
SXSYSZTCTDTFTGTHTJTKTLTMTNTOTRTTTVTWTZUAUGUMUSUYUZVAVCVEVGVIVNVUWFWSYEYTZAZMZW";

/// Checks an IANA time zone name (`Europe/Lisbon`, `America/Sao_Paulo`, `UTC`) against
/// the tz database and returns its canonical spelling.
pub fn check_time_zone(name: &str) -> Result<String, FieldError> {
    match name.parse::<chrono_tz::Tz>() {
        Ok(zone) => Ok(zone.name().to_owned()),
        Err(_) => Err(FieldError::new(
            "time_zone",
            format!(
                "{} is not an IANA time zone such as Europe/Lisbon or America/Sao_Paulo",
                quote(name)
            ),
        )),
    }
}

/// Checks an ISO 3166-1 alpha-2 country code (`PT`, `br`) and returns it upper-cased.
pub fn check_country(code: &str) -> Result<String, FieldError> {
    let upper = code.to_ascii_uppercase();
    let assigned = upper.len() == 2
        && upper.bytes().all(|b| b.is_ascii_uppercase())
        && ISO_3166_ALPHA_2
            .as_bytes()
            .chunks(2)
            .any(|c| c == upper.as_bytes());
    if assigned {
        Ok(upper)
    } else {
        Err(FieldError::new(
            "country",
            format!(
                "{} is not an ISO 3166-1 alpha-2 country code such as PT or BR",
                quote(code)
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_country_list_is_the_whole_assigned_set() {
        assert_eq!(ISO_3166_ALPHA_2.len(), 249 * 2);
        let codes: Vec<&[u8]> = ISO_3166_ALPHA_2.as_bytes().chunks(2).collect();
        assert!(codes.windows(2).all(|w| w[0] < w[1]), "sorted, no repeats");
    }

    #[test]
    fn time_zones_come_from_the_tz_database() {
        for zone in ["Europe/Lisbon", "America/Sao_Paulo", "Asia/Kolkata", "UTC"] {
            assert_eq!(check_time_zone(zone).unwrap(), zone);
        }
        for bad in ["", "Europe/Atlantis", "europe/lisbon", "+01:00", "GMT+1 "] {
            let err = check_time_zone(bad).unwrap_err();
            assert_eq!(err.field, "time_zone");
            assert!(err.problem.contains("is not an IANA time zone"), "{err}");
        }
    }

    #[test]
    fn countries_are_assigned_codes_in_upper_case() {
        assert_eq!(check_country("PT").unwrap(), "PT");
        assert_eq!(check_country("br").unwrap(), "BR");
        for bad in ["", "P", "PRT", "XK", "ZZ", "P1", "ÉE"] {
            let err = check_country(bad).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "country: {bad:?} is not an ISO 3166-1 alpha-2 country code such as PT or BR"
                )
            );
        }
    }
}
