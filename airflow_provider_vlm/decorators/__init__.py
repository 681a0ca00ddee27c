"""TaskFlow decorators of the provider (``@task.vlm``)."""
