"""CRM exports in: one mapping engine turns a Salesforce, HubSpot or warehouse export into the
three contract tables plus an import report; each format is a preset mapping (YAML in
``presets/``) a user can copy and edit."""
