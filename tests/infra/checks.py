"""Offline checks of infra/: the Bicep is parsed with pycep-parser and its resources held to our rules.

Each check takes the parsed templates (and what pipeline.records.names expects) and returns a list of
violations, empty when the templates comply, so tests can show that every check catches a breakage.
This is a shape check, not the Bicep compiler: names the templates read from names.json and
parameters with defaults are resolved; anything computed at deploy time is not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from pycep import BicepParser

REGION = "norwayeast"
FLEX_SKU = {"name": "FC1", "tier": "FlexConsumption"}
PYTHON = {"name": "python", "version": "3.11"}
ZRS = "Standard_ZRS"
SFTP_COMMITS = {"PutBlob", "PutBlockList", "FlushWithClose", "SftpCommit"}

# Built-in role ids, https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
ROLE_BLOB_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
ROLE_BLOB_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
ROLE_QUEUE_CONTRIBUTOR = "974c5e8b-45b9-4653-ba55-5f855dd0fb88"
ROLE_TABLE_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
ROLE_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"
ROLE_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
ROLE_SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
BROAD_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42e0-ab88-20f7382dd24c": "Contributor",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
    "17d1049b-9a84-46fb-8f53-869881c3d3ab": "Storage Account Contributor",
    "81a9662b-bebf-436f-a333-f67b29880f12": "Storage Account Key Operator Service Role",
    "00482a5a-887f-4fb3-b363-3b7fe8e74483": "Key Vault Administrator",
}

# Settings Flex Consumption rejects (runtime and deployment live in functionAppConfig).
# https://learn.microsoft.com/azure/azure-functions/functions-app-settings#flex-consumption-plan-deprecations
FLEX_REJECTS = {"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "WEBSITE_RUN_FROM_PACKAGE",
                "WEBSITE_CONTENTSHARE", "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
                "SCM_DO_BUILD_DURING_DEPLOYMENT", "ENABLE_ORYX_BUILD"}
# Key material in a setting value: storage connection strings, SAS tokens, key listing functions.
KEY_MATERIAL = re.compile(r"AccountKey=|DefaultEndpointsProtocol=|SharedAccessSignature=|sig=|"
                          r"listKeys\(|listAccountSas\(|listServiceSas\(", re.IGNORECASE)
# Words that must not appear in an output's name or value (camelCase and snake_case split into words).
SECRET_WORDS = {"key", "keys", "listkeys", "secret", "secrets", "password", "sas", "connectionstring",
                "credential", "credentials", "token"}


@dataclass
class Template:
    path: Path
    body: dict[str, Any]
    # Variables loading a JSON file: name → the loaded document (names.json).
    loaded: dict[str, Any] = field(default_factory=dict)

    def resolve(self, value: Any) -> Any:
        """A literal, a parameter's default, a variable, or a property of names.json; else unchanged."""
        if isinstance(value, str):
            params = self.body.get("parameters", {})
            variables = self.body.get("variables", {})
            if value in params and "default" in params[value]:
                return self.resolve(params[value]["default"])
            if value in variables and value not in self.loaded:
                return self.resolve(variables[value]["value"])
            return re.sub(r"\$\{(\w+)\.(\w+)\}", self._interpolate, value)
        if isinstance(value, dict) and value.get("operator", {}).get("type") == "property_accessor":
            operands = value["operator"]["operands"]
            document = self.loaded.get(operands["operand_1"])
            if document is not None and isinstance(operands["operand_2"], str):
                return document.get(operands["operand_2"], value)
        return value

    def _interpolate(self, match: re.Match[str]) -> str:
        document = self.loaded.get(match[1])
        if document is not None and match[2] in document:
            return str(document[match[2]])
        return match[0]


@dataclass(frozen=True)
class Resource:
    template: Template
    symbol: str
    type: str
    config: dict[str, Any]  # the body, under any loop or condition
    loop: Any = None  # what a `for` iterates over, resolved where possible

    @property
    def where(self) -> str:
        return f"{self.template.path.name}:{self.symbol}"

    def get(self, *path: str) -> Any:
        value: Any = self.config
        for key in path:
            if not isinstance(value, dict) or key not in value:
                return None
            value = value[key]
        return self.template.resolve(value)


# Parsing ------------------------------------------------------------------------------------------


def parse(infra: Path) -> tuple[list[Template], list[str]]:
    """Every .bicep file under infra/, parsed; a file that does not parse is a violation."""
    parser = BicepParser()
    templates, violations = [], []
    for path in sorted(infra.rglob("*.bicep")):
        try:
            body = parser.parse(file_path=path)
        except Exception as exc:  # lark raises several error types; any of them means "does not parse"
            violations.append(f"{path.relative_to(infra)}: does not parse: {type(exc).__name__}: {exc}"[:400])
            continue
        template = Template(path, dict(body))
        for name, variable in template.body.get("variables", {}).items():
            function = variable["value"].get("function", {}) if isinstance(variable["value"], dict) else {}
            if function.get("type") == "load_json_content":
                loaded = (path.parent / function["parameters"]["file_path"]).resolve()
                template.loaded[name] = json.loads(loaded.read_text("utf-8")) if loaded.exists() else {}
        templates.append(template)
    return templates, violations


def resources(templates: list[Template], type_: str | None = None) -> Iterator[Resource]:
    """Declared (not `existing`) resources, loops and conditions unwrapped."""
    for template in templates:
        for symbol, declared in template.body.get("resources", {}).items():
            if declared.get("existing") or (type_ is not None and declared["type"] != type_):
                continue
            config, loop = declared["config"], None
            while isinstance(config, dict) and ("loop_type" in config or "condition" in config):
                if "loop_type" in config:
                    loop = template.resolve(config["loop_type"]["detail"]["array_name"])
                config = config["config"]
            yield Resource(template, symbol, declared["type"], config, loop)


def _words(text: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text.replace("keyVault", "keyvault"))
    return [w.lower() for w in re.split(r"[^A-Za-z0-9]+", spaced) if w]


# Checks -------------------------------------------------------------------------------------------


def check_names_loaded(templates: list[Template], names_json: Path) -> list[str]:
    """Templates that load JSON load infra/names.json and nothing else."""
    violations = []
    for template in templates:
        for name, variable in template.body.get("variables", {}).items():
            if name in template.loaded:
                file_path = variable["value"]["function"]["parameters"]["file_path"]
                if (template.path.parent / file_path).resolve() != names_json.resolve():
                    violations.append(f"{template.path.name}: {name} loads {file_path}, not names.json")
    return violations


def check_created_names(templates: list[Template], queues: set[str], tables: set[str],
                        containers: set[str]) -> list[str]:
    """Every queue, table and container of pipeline.records.names is created by some resource."""
    wanted = {
        "Microsoft.Storage/storageAccounts/queueServices/queues": ("queue", queues),
        "Microsoft.Storage/storageAccounts/tableServices/tables": ("table", tables),
        "Microsoft.Storage/storageAccounts/blobServices/containers": ("container", containers),
    }
    violations = []
    for type_, (kind, names) in wanted.items():
        created: set[str] = set()
        for resource in resources(templates, type_):
            item = _loop_item(resource)
            name = resource.get("name")
            if item is not None and name == item and isinstance(resource.loop, list):
                created.update(resource.loop)
            elif isinstance(name, str) and "$" not in name:
                created.add(name)
        violations += [f"{kind} {n!r} is not created by any template" for n in sorted(names - created)]
    return violations


def _loop_item(resource: Resource) -> str | None:
    declared = resource.template.body["resources"][resource.symbol]["config"]
    while isinstance(declared, dict) and "condition" in declared and "loop_type" not in declared:
        declared = declared["config"]
    if isinstance(declared, dict) and "loop_type" in declared:
        return str(declared["loop_type"]["detail"]["item_name"])
    return None


def check_storage_accounts(templates: list[Template]) -> list[str]:
    """No shared keys, TLS 1.2, no public blobs, HTTPS only, zone-redundant and in-region (ZRS)."""
    violations = []
    accounts = list(resources(templates, "Microsoft.Storage/storageAccounts"))
    if not accounts:
        violations.append("no storage account declared")
    for account in accounts:
        props = partial(account.get, "properties")
        if props("allowSharedKeyAccess") is not False:
            violations.append(f"{account.where}: allowSharedKeyAccess must be false")
        if props("minimumTlsVersion") != "TLS1_2":
            violations.append(f"{account.where}: minimumTlsVersion must be TLS1_2")
        if props("allowBlobPublicAccess") is not False:
            violations.append(f"{account.where}: allowBlobPublicAccess must be false")
        if props("supportsHttpsTrafficOnly") is not True:
            violations.append(f"{account.where}: supportsHttpsTrafficOnly must be true")
        if account.get("sku", "name") != ZRS:
            violations.append(f"{account.where}: sku must be {ZRS} (data stays in Norway East), "
                              f"not {account.get('sku', 'name')!r}")
    for container in resources(templates, "Microsoft.Storage/storageAccounts/blobServices/containers"):
        if container.get("properties", "publicAccess") not in (None, "None"):
            violations.append(f"{container.where}: publicAccess must be None")
    return violations


def check_region(templates: list[Template]) -> list[str]:
    """main.bicep allows only Norway East and every resource is placed by the location parameter."""
    violations = []
    main = [t for t in templates if t.path.name == "main.bicep"]
    if not main:
        return ["main.bicep missing"]
    location = main[0].body.get("parameters", {}).get("location", {})
    if location.get("default") != REGION:
        violations.append(f"main.bicep: location must default to {REGION}")
    allowed = [d.get("argument") for d in location.get("decorators", []) if d.get("type") == "allowed"]
    if allowed != [[REGION]]:
        violations.append(f"main.bicep: location must be @allowed(['{REGION}']) only, not {allowed}")
    for resource in resources(templates):
        raw = resource.config.get("location")
        if raw is not None and raw != "location" and resource.template.resolve(raw) not in ("global", REGION):
            violations.append(f"{resource.where}: location {raw!r} is not the location parameter")
    for template in templates:
        for symbol, module in template.body.get("modules", {}).items():
            params = module["config"].get("config", module["config"]).get("params", {})
            if "location" in params and params["location"] != "location":
                violations.append(f"{template.path.name}:{symbol}: passes location {params['location']!r}")
    return violations


def check_lifecycle(templates: list[Template], history: set[str], retention_days: int) -> list[str]:
    """Every history container is deleted after exactly retention_days; no rule keeps blobs less."""
    violations, covered = [], set()
    for policy in resources(templates, "Microsoft.Storage/storageAccounts/managementPolicies"):
        for rule in policy.get("properties", "policy", "rules") or []:
            days = policy.template.resolve(
                rule.get("definition", {}).get("actions", {}).get("baseBlob", {}).get("delete", {})
                .get("daysAfterCreationGreaterThan"))
            if days != retention_days:
                violations.append(f"{policy.where}: rule {rule.get('name')!r} deletes after {days!r} days, "
                                  f"not {retention_days}")
                continue
            prefixes = rule["definition"].get("filters", {}).get("prefixMatch", [])
            if isinstance(prefixes, dict) and "loop_type" in prefixes:  # [for c in names.x: '${c}/']
                item = prefixes["loop_type"]["detail"]["item_name"]
                source = policy.template.resolve(prefixes["loop_type"]["detail"]["array_name"])
                if prefixes["config"] == f"${{{item}}}/" and isinstance(source, list):
                    covered.update(source)
            elif isinstance(prefixes, list):
                covered.update(str(policy.template.resolve(p)).rstrip("/") for p in prefixes)
    violations += [f"no lifecycle rule deletes container {c!r} after {retention_days} days"
                   for c in sorted(history - covered)]
    return violations


def check_function_app(templates: list[Template]) -> list[str]:
    """Flex Consumption (FC1), Linux, Python 3.11, deployed with the user-assigned identity."""
    violations = []
    plans = list(resources(templates, "Microsoft.Web/serverfarms"))
    sites = list(resources(templates, "Microsoft.Web/sites"))
    if len(plans) != 1 or len(sites) != 1:
        return [f"expected one plan and one function app, found {len(plans)} and {len(sites)}"]
    if plans[0].get("sku") != FLEX_SKU:
        violations.append(f"{plans[0].where}: sku must be {FLEX_SKU}")
    site = sites[0]
    if site.get("kind") != "functionapp,linux":
        violations.append(f"{site.where}: kind must be functionapp,linux")
    if site.get("properties", "functionAppConfig", "runtime") != PYTHON:
        violations.append(f"{site.where}: runtime must be {PYTHON}")
    if site.get("identity", "type") != "UserAssigned":
        violations.append(f"{site.where}: identity must be UserAssigned")
    authentication = site.get("properties", "functionAppConfig", "deployment", "storage", "authentication")
    if not isinstance(authentication, dict) or authentication.get("type") != "UserAssignedIdentity":
        violations.append(f"{site.where}: the deployment container must be read with the user-assigned identity")
    if site.get("properties", "httpsOnly") is not True:
        violations.append(f"{site.where}: httpsOnly must be true")
    return violations


def app_settings(templates: list[Template]) -> dict[str, Any]:
    """The function app's settings, keys resolved (names.json interpolations filled in)."""
    found: dict[str, Any] = {}
    for config in resources(templates, "Microsoft.Web/sites/config"):
        if config.get("name") == "appsettings":
            for key, value in (config.config.get("properties") or {}).items():
                found[str(config.template.resolve(key.strip("'")))] = value
    return found


def check_app_settings(templates: list[Template], connections: dict[str, set[str]]) -> list[str]:
    """Identity-based connections only (each prefix: its service URIs, managedidentity, clientId)."""
    settings = app_settings(templates)
    if not settings:
        return ["no appsettings found"]
    violations = []
    for prefix, services in connections.items():
        if prefix in settings:
            violations.append(f"{prefix} is set: a connection string, use {prefix}__* identity settings")
        for service in services:
            if f"{prefix}__{service}ServiceUri" not in settings:
                violations.append(f"{prefix}__{service}ServiceUri missing")
        if settings.get(f"{prefix}__credential") != "managedidentity":
            violations.append(f"{prefix}__credential must be managedidentity")
        if f"{prefix}__clientId" not in settings:
            violations.append(f"{prefix}__clientId missing (user-assigned identity)")
    for key, value in settings.items():
        if key in FLEX_REJECTS:
            violations.append(f"{key}: not allowed on Flex Consumption")
        if KEY_MATERIAL.search(json.dumps(value)):
            violations.append(f"{key}: carries key material")
    if settings.get("PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY") != "true":
        violations.append("PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY must be 'true'")
    if "Authorization=AAD" not in json.dumps(settings.get("APPLICATIONINSIGHTS_AUTHENTICATION_STRING")):
        violations.append("APPLICATIONINSIGHTS_AUTHENTICATION_STRING must use Authorization=AAD")
    if "BILAGSBRO_KEYVAULT_URL" not in settings:
        violations.append("BILAGSBRO_KEYVAULT_URL missing")
    return violations


def check_no_key_functions(infra: Path) -> list[str]:
    """No storage key or SAS anywhere: the only listKeys allowed is the Functions host's (Event Grid)."""
    violations = []
    for path in sorted(infra.rglob("*.bicep")):
        text = path.read_text("utf-8")
        for match in re.finditer(r"(listKeys|listAccountSas|listServiceSas)\(([^,)\n]*)|(AccountKey)=", text):
            if match[1] == "listKeys" and "/host/default" in match[2]:
                continue
            violations.append(f"{path.name}: uses {match[1] or match[3]}")
    return violations


def check_sftp(templates: list[Template], container: str) -> list[str]:
    """HNS + SFTP, SSH-key-only local users at <container>/<tenant>, Event Grid on committed uploads."""
    violations = []
    accounts = [a for a in resources(templates, "Microsoft.Storage/storageAccounts")
                if a.get("properties", "isSftpEnabled") is True]
    if len(accounts) != 1:
        return [f"expected one SFTP account, found {len(accounts)}"]
    for key in ("isHnsEnabled", "isLocalUserEnabled"):
        if accounts[0].get("properties", key) is not True:
            violations.append(f"{accounts[0].where}: {key} must be true")
    users = list(resources(templates, "Microsoft.Storage/storageAccounts/localUsers"))
    if not users:
        violations.append("no SFTP local users declared")
    for user in users:
        item = _loop_item(user)
        if user.get("properties", "hasSshPassword") is not False:
            violations.append(f"{user.where}: hasSshPassword must be false")
        if user.get("properties", "hasSshKey") is not True:
            violations.append(f"{user.where}: hasSshKey must be true")
        if user.get("properties", "homeDirectory") != f"{container}/${{{item}.tenant}}":
            violations.append(f"{user.where}: homeDirectory must be {container}/<tenant>")
        scopes = user.get("properties", "permissionScopes") or []
        if [user.template.resolve(s.get("resourceName")) for s in scopes] != [container]:
            violations.append(f"{user.where}: permissions must cover container {container!r} only")
    subscriptions = list(resources(templates, "Microsoft.EventGrid/systemTopics/eventSubscriptions"))
    if len(subscriptions) != 1:
        return violations + [f"expected one Event Grid subscription, found {len(subscriptions)}"]
    event_filter = subscriptions[0].get("properties", "filter") or {}
    where = subscriptions[0].where
    if event_filter.get("includedEventTypes") != ["Microsoft.Storage.BlobCreated"]:
        violations.append(f"{where}: must include only Microsoft.Storage.BlobCreated")
    subject = subscriptions[0].template.resolve(event_filter.get("subjectBeginsWith"))
    if subject != f"/blobServices/default/containers/{container}/":
        violations.append(f"{where}: subjectBeginsWith must be the {container} container, not {subject!r}")
    apis = [f for f in event_filter.get("advancedFilters", []) if f.get("key") == "data.api"]
    if len(apis) != 1 or apis[0].get("operatorType") != "StringIn" or set(apis[0].get("values", [])) != SFTP_COMMITS:
        violations.append(f"{where}: data.api must be StringIn {sorted(SFTP_COMMITS)}")
    return violations


def check_key_vault(templates: list[Template]) -> list[str]:
    """RBAC authorisation, soft delete and purge protection."""
    vaults = list(resources(templates, "Microsoft.KeyVault/vaults"))
    if len(vaults) != 1:
        return [f"expected one Key Vault, found {len(vaults)}"]
    return [f"{vaults[0].where}: {key} must be true"
            for key in ("enableRbacAuthorization", "enableSoftDelete", "enablePurgeProtection")
            if vaults[0].get("properties", key) is not True]


def check_monitoring(templates: list[Template]) -> list[str]:
    """Workspace-based Application Insights, local auth off; poison and delivery alerts exist."""
    violations = []
    components = list(resources(templates, "Microsoft.Insights/components"))
    if len(components) != 1:
        return [f"expected one Application Insights, found {len(components)}"]
    if components[0].get("properties", "DisableLocalAuth") is not True:
        violations.append(f"{components[0].where}: DisableLocalAuth must be true")
    if not components[0].get("properties", "WorkspaceResourceId"):
        violations.append(f"{components[0].where}: must be workspace-based")
    queries = [json.dumps(rule.get("properties", "criteria")) for rule in
               resources(templates, "Microsoft.Insights/scheduledQueryRules")]
    if not any("poisoned" in q for q in queries):
        violations.append("no alert on poisoned messages")
    if not any("deliver" in q for q in queries):
        violations.append("no alert on failed deliveries")
    return violations


def granted_roles(template: Template) -> set[str]:
    """Role definition ids the template's role assignments grant (loops over role-id variables unwrapped)."""
    variables = template.body.get("variables", {})
    granted = set()
    for assignment in resources([template], "Microsoft.Authorization/roleAssignments"):
        text = json.dumps([assignment.loop, assignment.config.get("properties", {}).get("roleDefinitionId")])
        for word in re.findall(r"[A-Za-z_]\w*|[0-9a-f-]{36}", text):
            value = variables.get(word, {}).get("value", word)
            if isinstance(value, str) and re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", value):
                granted.add(value)
    return granted


def check_roles(templates: list[Template]) -> list[str]:
    """Least privilege: each account, the vault and Application Insights grant exactly what the app needs.

    Host: Blob Data Owner (Flex deployment package, keys, leases) + Queue Data Contributor (blob
    trigger internals). Data: blob/queue/table Data Contributor. SFTP: what a blob trigger's
    connection needs, Blob Data Owner + Queue Data Contributor. Vault: Secrets Officer (the app writes
    tenants' connection secrets) or Secrets User. Application Insights: Monitoring Metrics Publisher.
    """
    expected = {
        "host": {ROLE_BLOB_OWNER, ROLE_QUEUE_CONTRIBUTOR},
        "data": {ROLE_BLOB_CONTRIBUTOR, ROLE_QUEUE_CONTRIBUTOR, ROLE_TABLE_CONTRIBUTOR},
        "sftp": {ROLE_BLOB_OWNER, ROLE_QUEUE_CONTRIBUTOR},
        "vault": {ROLE_SECRETS_OFFICER},
        "telemetry": {ROLE_METRICS_PUBLISHER},
    }
    seen: dict[str, set[str]] = {}
    violations = []
    for template in templates:
        granted = granted_roles(template)
        violations += [f"{template.path.name}: grants broad role {BROAD_ROLES[g]}" for g in granted & set(BROAD_ROLES)]
        seen.update((kind, granted - set(BROAD_ROLES)) for kind in _kinds(template))
    for kind, roles in expected.items():
        if kind not in seen:
            violations.append(f"no template declares the {kind} resource")
        elif kind == "vault" and seen[kind] in ({ROLE_SECRETS_OFFICER}, {ROLE_SECRETS_USER}):
            continue
        elif seen[kind] != roles:
            violations.append(f"{kind}: grants {sorted(seen[kind])}, expected {sorted(roles)}")
    return violations


def _kinds(template: Template) -> set[str]:
    kinds = set()
    for account in resources([template], "Microsoft.Storage/storageAccounts"):
        if account.get("properties", "isSftpEnabled") is True:
            kinds.add("sftp")
        elif any(resources([template], "Microsoft.Storage/storageAccounts/queueServices/queues")):
            kinds.add("data")
        else:
            kinds.add("host")
    if any(resources([template], "Microsoft.KeyVault/vaults")):
        kinds.add("vault")
    if any(resources([template], "Microsoft.Insights/components")):
        kinds.add("telemetry")
    return kinds


def check_outputs(templates: list[Template]) -> list[str]:
    """No output whose name or value speaks of keys, secrets, passwords or connection strings."""
    violations = []
    for template in templates:
        for name, output in template.body.get("outputs", {}).items():
            words = _words(name) + _words(json.dumps(output.get("value")))
            joined = "".join(words)
            bad = sorted(set(words) & SECRET_WORDS)
            if "connectionstring" in joined or "listkeys" in joined:
                bad.append("connectionString/listKeys")
            if bad:
                violations.append(f"{template.path.name}: output {name} mentions {bad}")
    return violations
