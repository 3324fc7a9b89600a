"""Lead history written as a CRM exports it (Salesforce, HubSpot, a Fivetran warehouse sync),
with the leaky fields such exports carry: the simulator's output for round-trip tests of the
import presets, the demo and the import benchmark. Each format also says what of the history
it carries (``carried``), which is what an import must give back exactly."""
