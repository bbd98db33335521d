from django.apps import AppConfig


class ChecksConfig(AppConfig):
    name = "yikatong.checks"
    label = "checks"
    verbose_name = "数据共享与交叉核查"

    def ready(self):
        # -- shared-data sources and the credit list (nav_sources.py) --
        from yikatong.checks.nav_sources import register_sources

        register_sources()
        # -- end of sources block --

        # -- rule engine: permissions and the approval gate (engine/, selectors_findings.py) --
        from yikatong.checks.engine.setup import install_engine

        install_engine()
        # -- end of rule engine block --

        # -- findings inbox, runs and rule settings pages (nav_findings.py) --
        from yikatong.checks.nav_findings import register_findings_nav

        register_findings_nav()
