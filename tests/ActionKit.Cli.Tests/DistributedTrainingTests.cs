using System.Diagnostics;
using ActionKit.Engine.Checkpoints;

namespace ActionKit.Cli.Tests;

/// <summary>A tiny synthetic pipeline up to Build, shared by the MPI tests; each test trains in its own workspaces.</summary>
public sealed class TinyPipeline : IDisposable
{
    // 24 training videos: with batch 8 an epoch is 3 steps. sync_bn makes 2 ranks compute what one process computes.
    const string Params = """
        synth: { videos_per_class: 3, val_videos_per_class: 1, min_frames: 12, max_frames: 16, width: 32, height: 24, seed: 5 }
        template: tiny.yaml
        train: { batch_size: 8 }
        """;
    const string Template = """
        id: Tiny
        name: Tiny
        inherits: Custom_Action_Classification_X3D_CPU
        model: { stem_width: 4, widths: [4, 8], depths: [1, 1], head_width: 12, head_hidden: 16 }
        data: { clip_len: 4, frame_interval: 2, short_side: 24, crop_size: 16, test_crop_size: 16 }
        hyper_parameters: { epochs: 1, learning_rate: 0.01, warmup_epochs: 0, sync_bn: true }
        """;

    readonly TempFolder root = new();

    public TinyPipeline()
    {
        root.Write("params.yaml", Params);
        root.Write("tiny.yaml", Template);
        foreach (string verb in new[] { "synth", "convert" })
            Assert.Equal(0, CliRunner.Run(verb, "--root", root.Path).ExitCode);
    }

    public string Root => root.Path;

    /// <summary>A new workspace, built with <paramref name="options"/> (such as --epochs), named uniquely by the caller.</summary>
    public string Workspace(string name, params string[] options)
    {
        var (exitCode, output) = CliRunner.Run(["build", "--root", root.Path, "--workspace", name, .. options]);
        Assert.True(exitCode == 0, output);
        return Path.Combine(root.Path, name);
    }

    public void Dispose() => root.Dispose();
}

/// <summary>
/// `mpirun -np 2 actionkit train` on loopback (MPICH; build.sh installs it): with sync_bn the weights and optimizer
/// state of one process bit for bit, the same across runs, and a killed rank that ends the job and leaves a
/// checkpoint to resume from.
/// </summary>
public sealed class DistributedTrainingTests(TinyPipeline pipeline) : IClassFixture<TinyPipeline>
{
    static readonly string Cli = Path.Combine(AppContext.BaseDirectory, "actionkit.dll");
    static readonly string RankScript = Path.Combine(CliTests.RepositoryRoot(), "build", "mpi-rank.sh");

    (int ExitCode, string Output) Train(int ranks, string workspace, params string[] options)
    {
        var process = StartTraining(ranks, workspace, options);
        string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output);
    }

    Process StartTraining(int ranks, string workspace, params string[] options)
    {
        string[] train = [Cli, "train", "--root", pipeline.Root, "--workspace", workspace, .. options];
        var start = ranks == 1 ? new ProcessStartInfo("dotnet", train) : new ProcessStartInfo("mpiexec.mpich", ["-np", $"{ranks}", RankScript, "dotnet", .. train]);
        start.RedirectStandardOutput = start.RedirectStandardError = true;
        return Process.Start(start) ?? throw new InvalidOperationException("mpiexec.mpich did not start (install MPICH: apt-get install mpich)");
    }

    static byte[] Bytes(string workspace, string file) => File.ReadAllBytes(Path.Combine(workspace, "models", file));

    // A checkpoint's tensors (weights, optimizer state), without its metadata (the history holds timings).
    static byte[] Tensors(string workspace, string file) =>
        [.. SafeTensors.Read(Path.Combine(workspace, "models", file)).Tensors.SelectMany(tensor => tensor.Data)];

    [Fact]
    public void Two_ranks_with_sync_bn_train_one_process_weights_bit_for_bit_and_repeat()
    {
        string one = pipeline.Workspace("one"), first = pipeline.Workspace("two-a"), second = pipeline.Workspace("two-b");
        foreach (var (ranks, workspace) in new[] { (1, one), (2, first), (2, second) })
        {
            var (exitCode, output) = Train(ranks, workspace);
            Assert.True(exitCode == 0, output);
        }
        Assert.Equal(Bytes(first, "weights.safetensors"), Bytes(second, "weights.safetensors"));
        Assert.Equal(Tensors(first, "last.ckpt"), Tensors(second, "last.ckpt"));
        Assert.Equal(File.ReadAllText(Path.Combine(first, "metrics.jsonl")).Split("train_clips")[0], File.ReadAllText(Path.Combine(second, "metrics.jsonl")).Split("train_clips")[0]);

        // Batch sums in the clip tree (Kernels.Cpu.BatchTree): 4 clips per rank are a subtree of one process's 8.
        Assert.Equal(Tensors(one, "last.ckpt"), Tensors(first, "last.ckpt"));
    }

    [Fact]
    public async Task A_killed_rank_ends_the_job_and_resume_continues_with_another_number_of_ranks()
    {
        string workspace = pipeline.Workspace("killed", "--epochs", "30");
        string checkpoint = Path.Combine(workspace, ".work", "train", "models", "last.ckpt");
        using var job = StartTraining(2, workspace);
        var output = job.StandardOutput.ReadToEndAsync();
        var errors = job.StandardError.ReadToEndAsync();
        var clock = Stopwatch.StartNew();
        while (!File.Exists(checkpoint) && !job.HasExited && clock.Elapsed < TimeSpan.FromMinutes(1))
            await Task.Delay(20);
        Assert.True(File.Exists(checkpoint), "no checkpoint after the first epoch");
        Process.GetProcessById(RankProcess(1, workspace)).Kill();
        Assert.True(job.WaitForExit(60_000), "the other rank kept running");

        string log = await output + await errors;
        Assert.NotEqual(0, job.ExitCode);
        Assert.Contains("rank 1 of 2 on ", log);
        Assert.Contains("was killed by signal 9 (SIGKILL)", log);
        Assert.False(Directory.Exists(Path.Combine(workspace, "models")), "a failed run must not move outputs into place");
        int finished = CheckpointEpochs(checkpoint);
        Assert.InRange(finished, 1, 29);

        var (exitCode, resumed) = Train(1, workspace, "--resume");
        Assert.True(exitCode == 0, resumed);
        var epochs = File.ReadAllLines(Path.Combine(workspace, "metrics.jsonl"));
        Assert.Equal(30, epochs.Length);
        Assert.Contains("\"epoch\":30,", epochs[^1]);
    }

    [Fact]
    public void A_nan_loss_on_the_ranks_names_them_and_exits_with_the_model_error_code()
    {
        string workspace = pipeline.Workspace("nan", "--lr", "1e30");
        var (exitCode, output) = Train(2, workspace);
        Assert.True(exitCode == ExitCodes.Model, output);
        Assert.Matches(@"rank [01] of 2: the loss became \S+ in epoch 1", output);
    }

    // The history of the training state in last.ckpt: how many epochs it holds.
    static int CheckpointEpochs(string path)
    {
        var (_, metadata) = SafeTensors.Read(path);
        return System.Text.Json.JsonDocument.Parse(metadata["history"]).RootElement.GetArrayLength();
    }

    // The dotnet process of one rank (MPICH's hydra gives each its PMI_RANK) training in this workspace.
    static int RankProcess(int rank, string workspace)
    {
        foreach (string folder in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(folder), out int pid))
                continue;
            try
            {
                string environment = File.ReadAllText(Path.Combine(folder, "environ"));
                string commandLine = File.ReadAllText(Path.Combine(folder, "cmdline"));
                if (environment.Split('\0').Contains($"PMI_RANK={rank}") && commandLine.StartsWith("dotnet\0", StringComparison.Ordinal) && commandLine.Contains(workspace))
                    return pid;
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        throw new InvalidOperationException($"no process of rank {rank} trains in {workspace}");
    }
}
