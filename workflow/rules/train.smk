# Stage 2 — training: build students from teacher layers, cache teacher embeddings once per
# (teacher, corpus), train every grid run (config `variants:` x `ablations:`, src/distilface/plan/grid.py).
TRAINING = config.get("training", {})
TRAIN_RES = TRAINING.get("resources", {})


wildcard_constraints:
    variant="[^/]+",
    hparams="[^/]+",
    seed=r"\d+",
    student="[^/]+",
    teacher="[^/]+",
    corpus="[^/]+",


rule student_init:
    """A student built once and shared by every variant that trains or scores it
    (training.students.{student}): a DistilBERT layout from a BERT teacher's embeddings and its
    layers (copied, or fresh BERT-initialised ones: layer_init random), or a static student
    distilled from a teacher by model2vec's recipe (from_model2vec: the teacher's forward pass
    over its vocabulary, on the training device)."""
    output:
        directory(paths.student_dir("{student}")),
    params:
        spec=lambda wc: TRAINING["students"][wc.student],
    log:
        paths.job_log("student_init", "{student}"),
    benchmark:
        paths.benchmark("student_init", "{student}"),
    threads: lambda wc: TRAIN_RES.get("threads", 2) if runs_teacher(wc.student) else 1
    resources:
        gpu=lambda wc: TRAIN_RES.get("gpu", 0) if runs_teacher(wc.student) else 0,
        mem_mb=4000,
        runtime=15,
    conda:
        "../../envs/train.yaml"
    script:
        "../scripts/student_init.py"


rule teacher_cache:
    """Teacher sentence embeddings of one corpus, computed once, reused by every DisCo run."""
    input:
        corpus=lambda wc: data_spec(config, wc.corpus)[0],
    output:
        npy=paths.teacher_cache("{teacher}", "{corpus}"),
        meta=paths.teacher_cache("{teacher}", "{corpus}", ext="json"),
    params:
        teacher=lambda wc: teacher_path(config, wc.teacher),
        pooling=lambda wc: config["models"][wc.teacher].get("pooling", "avg"),
        max_length=TRAINING.get("teacher_max_length", 128),
        batch_size=TRAINING.get("teacher_batch_size", 128),
        limit=lambda wc: data_spec(config, wc.corpus)[1],
    log:
        paths.job_log("teacher_cache", "{teacher}/{corpus}"),
    benchmark:
        paths.benchmark("teacher_cache", "{teacher}/{corpus}"),
    threads: TRAIN_RES.get("threads", 2)
    resources:
        gpu=TRAIN_RES.get("gpu", 0),
        mem_mb=TRAIN_RES.get("mem_mb", 16000),
        runtime=TRAIN_RES.get("runtime", 120),
    conda:
        "../../envs/train.yaml"
    script:
        "../scripts/teacher_cache.py"


rule train:
    """One grid run -> a sentence-transformers folder + train_log.jsonl + train_summary.json.

    Checkpoints live outside the output (results/checkpoints/...), so a re-run after a crash
    or a SLURM time-out resumes where it stopped instead of starting again."""
    input:
        unpack(lambda wc: train_inputs(config, grid_run(wc))),
    output:
        directory(paths.model_dir(RUN_ID)),
    params:
        kwargs=lambda wc: train_config_kwargs(config, grid_run(wc)),
        work_dir=paths.checkpoint_dir(RUN_ID),
    log:
        paths.job_log("train", RUN_ID),
    benchmark:
        paths.benchmark("train", "{variant}/{hparams}/seed{seed}"),
    threads: TRAIN_RES.get("threads", 2)
    resources:
        gpu=TRAIN_RES.get("gpu", 0),
        mem_mb=TRAIN_RES.get("mem_mb", 16000),
        runtime=TRAIN_RES.get("runtime", 240),
    conda:
        "../../envs/train.yaml"
    script:
        "../scripts/train.py"
