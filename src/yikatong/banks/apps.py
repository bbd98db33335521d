from django.apps import AppConfig


class BanksConfig(AppConfig):
    """Bank exchange: file formats (CSV/XLSX/pain.001), the bank API and the bank simulator. No models: batches,
    attempts and results belong to the payments app."""

    name = "yikatong.banks"
    label = "banks"
    verbose_name = "银行交换"
