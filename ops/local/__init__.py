"""The whole job on one machine (``deep-insight run``, the console's local mode): the executor as a local
process, the agent workflow in-process, the model on Bedrock or an OpenAI-compatible server.

Along its seams: `executor_process` (start and stop the executor), `models` (which model each agent
gets), `job` (one job, its artifacts copied into a folder)."""
