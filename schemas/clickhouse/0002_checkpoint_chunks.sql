-- Checkpoints stored as content-defined chunks (gigstream_runtime::chunks): a task's row in
-- gigstream_task_checkpoints then holds the manifest (the names of its chunks) instead of the
-- whole checkpoint, and a commit writes only the chunks that are new for the task.
CREATE TABLE IF NOT EXISTS `gigstream_checkpoint_chunks`
(
    `service` String,
    `hash` String,
    `bytes` String,
    `written_at` DateTime
)
ENGINE = ReplacingMergeTree(`written_at`)
ORDER BY (`service`, `hash`);
