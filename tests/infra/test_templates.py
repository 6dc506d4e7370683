"""The Bicep under infra/ holds to our rules, offline: parsed with pycep-parser, checked by checks.py.

The second half copies infra/ into a temporary folder, breaks one thing, and shows the check fails,
so a check that passes can be trusted to mean something.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from infra.names import names_document, render
from pipeline.records import names
from tests.infra import checks

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
CONNECTIONS = {
    "AzureWebJobsStorage": {"blob", "queue"},
    names.STORAGE_CONNECTION: {"blob", "queue", "table"},
    names.SFTP_CONNECTION: {"blob", "queue"},  # a blob trigger needs its account's queues too
}


def run_all(infra: Path) -> list[str]:
    templates, violations = checks.parse(infra)
    return violations + [
        *checks.check_names_loaded(templates, infra / "names.json"),
        *checks.check_created_names(templates, set(names.QUEUES), set(names.TABLES),
                                    set(names.CONTAINERS) | {names.CONTAINER_SFTP}),
        *checks.check_storage_accounts(templates),
        *checks.check_region(templates),
        *checks.check_lifecycle(templates, set(names.HISTORY_CONTAINERS), names.RETENTION_DAYS),
        *checks.check_function_app(templates),
        *checks.check_app_settings(templates, CONNECTIONS),
        *checks.check_no_key_functions(infra),
        *checks.check_sftp(templates, names.CONTAINER_SFTP),
        *checks.check_key_vault(templates),
        *checks.check_monitoring(templates),
        *checks.check_roles(templates),
        *checks.check_outputs(templates),
    ]


@pytest.fixture(scope="module")
def templates() -> list[checks.Template]:
    parsed, violations = checks.parse(INFRA)
    assert violations == []
    return parsed


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    """A copy of infra/ to break; run_all on it before breaking is clean."""
    copy = tmp_path / "infra"
    shutil.copytree(INFRA, copy, ignore=shutil.ignore_patterns("__pycache__", ".venv*"))
    return copy


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text("utf-8")
    assert text.count(old) >= count, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, count), "utf-8")


# One source of names ------------------------------------------------------------------------------


def test_names_json_is_generated_from_pipeline_names() -> None:
    assert (INFRA / "names.json").read_text("utf-8") == render(), "run `python -m infra.names`"
    document = json.loads((INFRA / "names.json").read_text("utf-8"))
    assert document["queues"] == list(names.QUEUES)
    assert set(document["poisonQueues"]) == {q + names.POISON_SUFFIX for q in names.STAGE_QUEUES}
    assert document["retentionDays"] == names.RETENTION_DAYS == 90


def test_every_template_that_loads_json_loads_names_json(templates: list[checks.Template]) -> None:
    assert checks.check_names_loaded(templates, INFRA / "names.json") == []
    loaders = {t.path.name for t in templates if t.loaded}
    assert {"data-storage.bicep", "sftp-storage.bicep", "function-app.bicep"} <= loaders


def test_every_queue_table_and_container_is_created(templates: list[checks.Template]) -> None:
    assert checks.check_created_names(templates, set(names.QUEUES), set(names.TABLES),
                                      set(names.CONTAINERS) | {names.CONTAINER_SFTP}) == []


def test_a_name_added_to_pipeline_without_a_template_is_caught(templates: list[checks.Template]) -> None:
    assert checks.check_created_names(templates, {*names.QUEUES, "delivered"}, set(), set()) == [
        "queue 'delivered' is not created by any template"]


# The rules, on the real templates ----------------------------------------------------------------


def test_every_bicep_file_parses() -> None:
    parsed, violations = checks.parse(INFRA)
    assert violations == []
    assert {t.path.name for t in parsed} >= {"main.bicep", "function-app.bicep", "data-storage.bicep",
                                             "sftp-storage.bicep", "sftp-events.bicep", "keyvault.bicep"}


def test_all_checks_pass_on_infra() -> None:
    assert run_all(INFRA) == []


def test_region_is_norway_east_only(templates: list[checks.Template]) -> None:
    assert checks.check_region(templates) == []
    parameters = json.loads((INFRA / "main.parameters.json").read_text("utf-8"))["parameters"]
    assert parameters["location"]["value"] == "norwayeast"


def test_function_app_is_flex_python_311(templates: list[checks.Template]) -> None:
    assert checks.check_function_app(templates) == []


def test_connections_are_identity_based(templates: list[checks.Template]) -> None:
    from connectors.secrets import KEYVAULT_SETTING

    assert checks.check_app_settings(templates, CONNECTIONS) == []
    settings = checks.app_settings(templates)
    assert settings[f"{names.STORAGE_CONNECTION}__tableServiceUri"].startswith("https://")
    assert KEYVAULT_SETTING in settings
    assert not [k for k in settings if re.search(r"(?i)connectionstring$", k)
                and k != "APPLICATIONINSIGHTS_CONNECTION_STRING"]


def test_storage_accounts_have_no_keys_and_stay_in_region(templates: list[checks.Template]) -> None:
    assert checks.check_storage_accounts(templates) == []
    assert checks.check_no_key_functions(INFRA) == []
    assert len(list(checks.resources(templates, "Microsoft.Storage/storageAccounts"))) == 3


def test_history_is_deleted_after_90_days(templates: list[checks.Template]) -> None:
    assert checks.check_lifecycle(templates, set(names.HISTORY_CONTAINERS), names.RETENTION_DAYS) == []


def test_sftp_account_users_and_events(templates: list[checks.Template]) -> None:
    assert checks.check_sftp(templates, names.CONTAINER_SFTP) == []


def test_key_vault_monitoring_roles_and_outputs(templates: list[checks.Template]) -> None:
    assert checks.check_key_vault(templates) == []
    assert checks.check_monitoring(templates) == []
    assert checks.check_roles(templates) == []
    assert checks.check_outputs(templates) == []


# Each check catches a breakage --------------------------------------------------------------------


def test_copy_is_clean_before_breaking(broken: Path) -> None:
    assert run_all(broken) == []


@pytest.mark.parametrize(("module", "declaration"), [
    ("main.bicep", "\nmodule dataStorage "),
    ("modules/data-storage.bicep", "\nresource lifecycle "),
    ("modules/sftp-events.bicep", "\nresource subscription "),
])
def test_syntax_error_fails_parsing(broken: Path, module: str, declaration: str) -> None:
    edit(broken / module, declaration, declaration + "= {")
    templates, violations = checks.parse(broken)
    assert len(violations) == 1 and violations[0].startswith(f"{module}: does not parse")


def test_shared_key_access_is_flagged(broken: Path) -> None:
    edit(broken / "modules/data-storage.bicep", "allowSharedKeyAccess: false", "allowSharedKeyAccess: true")
    assert run_all(broken) == ["data-storage.bicep:account: allowSharedKeyAccess must be false"]


def test_lifecycle_of_30_days_is_flagged(broken: Path) -> None:
    edit(broken / "modules/data-storage.bicep", "daysAfterCreationGreaterThan: names.retentionDays",
         "daysAfterCreationGreaterThan: 30")
    assert run_all(broken) == [
        "data-storage.bicep:lifecycle: rule 'delete-history' deletes after 30 days, not 90",
        *(f"no lifecycle rule deletes container {c!r} after 90 days" for c in sorted(names.HISTORY_CONTAINERS)),
    ]


def test_stale_names_json_is_caught(broken: Path) -> None:
    document = names_document()
    document["queues"] = [q for q in document["queues"] if not q.endswith(names.POISON_SUFFIX)]
    (broken / "names.json").write_text(json.dumps(document), "utf-8")
    removed = sorted(q for q in names.QUEUES if q.endswith(names.POISON_SUFFIX))  # the stages' and the webhooks'
    assert run_all(broken) == [f"queue {q!r} is not created by any template" for q in removed]


@pytest.mark.parametrize(("module", "old", "new", "violation"), [
    ("modules/data-storage.bicep", "name: 'Standard_ZRS'", "name: 'Standard_GRS'",
     "data-storage.bicep:account: sku must be Standard_ZRS (data stays in Norway East), not 'Standard_GRS'"),
    ("main.bicep", "param location string = 'norwayeast'", "param location string = 'westeurope'",
     "main.bicep: location must default to norwayeast"),
    ("modules/function-app.bicep", "version: '3.11'", "version: '3.12'",
     "function-app.bicep:app: runtime must be {'name': 'python', 'version': '3.11'}"),
    ("modules/function-app.bicep", "AzureWebJobsStorage__credential: 'managedidentity'",
     "AzureWebJobsStorage: 'DefaultEndpointsProtocol=https;AccountKey=x'",
     "AzureWebJobsStorage is set: a connection string, use AzureWebJobsStorage__* identity settings"),
    ("modules/sftp-storage.bicep", "hasSshPassword: false", "hasSshPassword: true",
     "sftp-storage.bicep:localUsers: hasSshPassword must be false"),
    ("modules/sftp-events.bicep", "'SftpCommit'", "'SftpCreate'",
     "sftp-events.bicep:subscription: data.api must be StringIn "
     "['FlushWithClose', 'PutBlob', 'PutBlockList', 'SftpCommit']"),
    ("modules/keyvault.bicep", "enableRbacAuthorization: true", "enableRbacAuthorization: false",
     "keyvault.bicep:vault: enableRbacAuthorization must be true"),
    ("modules/monitoring.bicep", "DisableLocalAuth: true", "DisableLocalAuth: false",
     "monitoring.bicep:applicationInsights: DisableLocalAuth must be true"),
    ("modules/data-storage.bicep", "var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'",
     "var storageBlobDataContributor = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'",
     "data: grants ['0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3', '974c5e8b-45b9-4653-ba55-5f855dd0fb88', "
     "'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'], expected ['0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3', "
     "'974c5e8b-45b9-4653-ba55-5f855dd0fb88', 'ba92f5b4-2d11-453d-a403-e96b0029c9fe']"),
    ("modules/monitoring.bicep", "var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'",
     "var monitoringMetricsPublisher = 'b24988ac-6180-42e0-ab88-20f7382dd24c'",
     "monitoring.bicep: grants broad role Contributor"),
    ("modules/host-storage.bicep", "output name string = account.name",
     "output accountKey string = account.listKeys().keys[0].value",
     "host-storage.bicep: uses listKeys"),
])
def test_each_rule_catches_its_breakage(broken: Path, module: str, old: str, new: str, violation: str) -> None:
    edit(broken / module, old, new)
    assert violation in run_all(broken)


def test_secret_output_is_flagged(broken: Path) -> None:
    with (broken / "main.bicep").open("a", encoding="utf-8") as f:
        f.write("output STORAGE_CONNECTION_STRING string = 'x'\noutput vaultSecret string = keyVault.outputs.uri\n")
    templates, _ = checks.parse(broken)
    assert checks.check_outputs(templates) == [
        "main.bicep: output STORAGE_CONNECTION_STRING mentions ['connectionString/listKeys']",
        "main.bicep: output vaultSecret mentions ['secret']",
    ]


def test_every_setting_a_trigger_names_is_an_app_setting(templates: list[checks.Template]) -> None:
    """A timer on `%SETTING%` whose setting is missing in Azure fails to index the whole app."""
    from bilagsbro.stack import load_function_app

    named = {m.group(1) for f in load_function_app().app.get_functions()
             for value in f.get_trigger().get_dict_repr().values()
             if isinstance(value, str) and (m := re.fullmatch(r"%(.+)%", value))}
    assert {"SWEEP_SCHEDULE", "OMNIUM_PULL_SCHEDULE"} <= named
    assert named - set(checks.app_settings(templates)) == set()
