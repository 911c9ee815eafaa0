from django.apps import AppConfig


class VaultsConfig(AppConfig):
    name = "vaults"
    verbose_name = "Collateral vaults"
    default_auto_field = "django.db.models.BigAutoField"
