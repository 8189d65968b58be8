//! The city's rules from its validated config: what `core` and `publish` are given.
//! Must not read anything but the config.

use super::core::CityRules;
use super::publish::PublishRules;
use crate::config::{City, Config};

/// The `[city]` of `config`, if it has one.
pub fn city(config: &Config) -> Option<&City> {
    config.city.as_ref()
}

/// How the core judges mail to the city's account.
pub fn core_rules(city: &City) -> CityRules {
    CityRules {
        city_name: city.name.clone(),
        require_auth: !city.account.mail.trusted_authserv_ids.is_empty(),
        code_valid_hours: city.activation_codes_valid_hours,
    }
}

/// How and where the city publishes.
pub fn publish_rules(config: &Config, city: &City) -> PublishRules {
    PublishRules {
        city_name: city.name.clone(),
        checkpoints: city.checkpoints.clone(),
        fresh_hours: city.fresh_hours,
        max_valid_days: config.permits.max_valid_days,
        at_most_every_minutes: city.publish_at_most_every_minutes,
        at_least_every_hours: city.publish_at_least_every_hours,
    }
}
