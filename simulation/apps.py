from django.apps import AppConfig


class SimulationConfig(AppConfig):
    name = "simulation"
    verbose_name = "Simulated merchant"

    def ready(self) -> None:
        from oms.dashboard import NAVIGATION, NavItem

        item = NavItem("Simulation", "simulation:runs", "simulation")
        if item not in NAVIGATION:
            NAVIGATION.append(item)
