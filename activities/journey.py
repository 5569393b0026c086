"""What the account journey reads from disk: the then-current playbook catalog (so a play started
months after the deal closed runs the playbook published at that moment) and the scoring model.
Both are loaded fresh on each call: ops edit the files without restarting anything."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from csrunner.config.catalog import load_catalog
from csrunner.config.scoring_models import load_scoring_model
from csrunner.config.settings import Settings
from csrunner.config.sourcemap import DefinitionError
from csrunner.domain.definitions import PlaybookDefinition
from csrunner.domain.scoring import ScoringModel


class JourneyActivities:
    def __init__(self, settings: Settings):
        self.settings = settings

    @activity.defn
    def load_definitions(self, playbook: str) -> dict[str, PlaybookDefinition]:
        """The snapshot a new play carries: this playbook and every one it can hand over to."""
        try:
            return load_catalog(self.settings.playbooks_dir, self.settings.templates_dir).bundle(playbook)
        except DefinitionError as e:  # a broken catalog needs a person, not a retry storm
            raise ApplicationError(
                f"playbook catalog: {e}", type="DefinitionError", non_retryable=True
            ) from None

    @activity.defn
    def load_scoring_model(self) -> ScoringModel:
        try:
            return load_scoring_model(self.settings.scoring_model_path)
        except DefinitionError as e:
            raise ApplicationError(
                f"scoring model: {e}", type="DefinitionError", non_retryable=True
            ) from None
