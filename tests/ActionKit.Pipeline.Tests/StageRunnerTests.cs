using ActionKit.Data.Synthetic;
using ActionKit.Pipeline.Caching;
using ActionKit.Pipeline.Parameters;
using ActionKit.Pipeline.Stages;

namespace ActionKit.Pipeline.Tests;

public sealed class StageRunnerTests : IDisposable
{
    private readonly TempFolder root = new();
    private readonly FirstStage first = new();
    private readonly SecondStage second = new();
    private readonly StageGraph graph;

    public StageRunnerTests()
    {
        graph = new StageGraph([first, second]);
        root.Write("input/a.txt", "alpha");
        root.Write("input/frames/00001.jpg", "frame one");
        root.Write("input/frames/sub/00002.jpg", "frame two");
    }

    public void Dispose() => root.Dispose();

    [Fact]
    public void First_run_produces_outputs_and_a_lock_then_the_rerun_is_up_to_date()
    {
        var runner = Runner(new PipelineParams());
        var plan = runner.Plan(first);
        Assert.False(plan.UpToDate);
        Assert.Contains("no lock", plan.Reason);

        var stageLock = runner.Run(plan, null, CancellationToken.None);

        Assert.Equal("alpha", root.Read("out/first/part1.txt"));
        Assert.Equal("seed 2", root.Read("out/first/part2.txt"));
        Assert.Equal(plan.Fingerprint.Key, StageLock.TryRead(root.Combine("out/.locks/first.json"))!.Key);
        Assert.Equal(["input/a.txt", "input/frames"], stageLock.Inputs.Keys);
        Assert.Equal(["out/first"], stageLock.Outputs.Keys);
        Assert.False(Directory.Exists(root.Combine("out/.work/first")));

        var again = Runner(new PipelineParams()).Plan(first);
        Assert.True(again.UpToDate, again.Reason);
        Assert.Equal(plan.Fingerprint.Key, again.Fingerprint.Key);
    }

    [Fact]
    public void Declared_contents_enter_the_key_and_a_change_names_them()
    {
        first.Contents = new() { ["template in force"] = "epochs: 16" };
        var runner = Runner(new PipelineParams());
        runner.Run(runner.Plan(first), null, CancellationToken.None);
        Assert.True(Runner(new PipelineParams()).Plan(first).UpToDate);

        first.Contents = new() { ["template in force"] = "epochs: 18" };
        var plan = Runner(new PipelineParams()).Plan(first);
        Assert.False(plan.UpToDate);
        Assert.Contains("input template in force changed", plan.Reason);
    }

    [Fact]
    public void Key_changes_with_input_content_and_read_params_but_not_with_mtime_or_unread_params()
    {
        string Key(PipelineParams p) => Runner(p).Plan(first).Fingerprint.Key;
        var defaults = new PipelineParams();
        string original = Key(defaults);

        File.SetLastWriteTimeUtc(root.Combine("input/frames/00001.jpg"), DateTime.UtcNow.AddHours(-3));
        File.SetLastWriteTimeUtc(root.Combine("input/a.txt"), DateTime.UtcNow.AddHours(-2));
        Assert.Equal(original, Key(defaults));
        Assert.Equal(original, Key(defaults with { Data = defaults.Data with { Split = 2 }, Template = "X3D-M" }));

        Assert.NotEqual(original, Key(defaults with { Synth = defaults.Synth with { Seed = 8 } }));

        root.Write("input/frames/sub/00002.jpg", "frame 2");
        string afterFrameEdit = Key(defaults);
        Assert.NotEqual(original, afterFrameEdit);
        root.Write("input/frames/00003.jpg", "a new frame");
        Assert.NotEqual(afterFrameEdit, Key(defaults));
    }

    [Fact]
    public void Upstream_key_enters_the_downstream_key()
    {
        var defaults = new PipelineParams();
        var runner = Runner(defaults);
        runner.Run(runner.Plan(first), null, CancellationToken.None);
        string secondKey = runner.Plan(second).Fingerprint.Key;

        // Same outputs content is not enough: a new upstream key alone re-keys the stage below.
        var stageLock = StageLock.TryRead(root.Combine("out/.locks/first.json"))!;
        (stageLock with { Key = new string('0', 64) }).Write(root.Combine("out/.locks/first.json"));

        var plan = Runner(defaults).Plan(second);
        Assert.NotEqual(secondKey, plan.Fingerprint.Key);
    }

    [Fact]
    public void Declared_code_and_packages_enter_the_key_and_a_change_names_them()
    {
        first.Code = ["ActionKit.Fake/Cpu"];
        first.Packages = ["Some.Package"];
        var code = FakeCode(activations: "a1", gemm: "g1", package: "1.0.0");
        var runner = Runner(new PipelineParams(), code);
        runner.Run(runner.Plan(first), null, CancellationToken.None);
        Assert.True(Runner(new PipelineParams(), code).Plan(first).UpToDate);
        Assert.True(Runner(new PipelineParams(), FakeCode(activations: "a1", gemm: "g1", package: "1.0.0", readme: "r2")).Plan(first).UpToDate);

        var edited = Runner(new PipelineParams(), FakeCode(activations: "a2", gemm: "g1", package: "1.0.0")).Plan(first);
        Assert.False(edited.UpToDate);
        Assert.Equal("code ActionKit.Fake/Cpu changed", edited.Reason);

        var upgraded = Runner(new PipelineParams(), FakeCode(activations: "a1", gemm: "g1", package: "1.1.0")).Plan(first);
        Assert.Equal("package Some.Package 1.0.0 -> 1.1.0", upgraded.Reason);
    }

    [Fact]
    public void A_code_unit_that_names_no_source_file_is_an_error()
    {
        first.Code = ["ActionKit.Fake/Gpu"];
        var error = Assert.Throws<InvalidOperationException>(() => Runner(new PipelineParams(), FakeCode("a1", "g1", "1.0.0")).Plan(first));
        Assert.Contains("ActionKit.Fake/Gpu", error.Message);
    }

    /// <summary>An assembly ActionKit.Fake with two files under Cpu/ and one outside it, referencing Some.Package.</summary>
    private static CodeIndex FakeCode(string activations, string gemm, string package, string readme = "r1") => new(new Dictionary<string, AssemblyCode>
    {
        ["ActionKit.Fake"] = new(
            new Dictionary<string, string> { ["Cpu/Activations.cs"] = activations, ["Cpu/Gemm.cs"] = gemm, ["Readme.cs"] = readme },
            new Dictionary<string, string> { ["Some.Package"] = package }),
    });

    [Fact]
    public void Downstream_stage_needs_its_upstream_lock()
    {
        var error = Assert.Throws<StageException>(() => Runner(new PipelineParams()).Plan(second));
        Assert.Contains("upstream stage first has not run", error.Message);
    }

    [Fact]
    public void Missing_input_is_a_stage_error_naming_it()
    {
        File.Delete(root.Combine("input/a.txt"));
        var error = Assert.Throws<StageException>(() => Runner(new PipelineParams()).Plan(first));
        Assert.Contains("input/a.txt does not exist", error.Message);
    }

    [Fact]
    public void Changing_a_param_reruns_only_the_stages_that_read_it_and_those_below()
    {
        var defaults = new PipelineParams();
        RunAll(defaults);
        Assert.Equal((1, 1), (first.Runs, second.Runs));

        var newSplit = defaults with { Data = defaults.Data with { Split = 3 } };
        var results = RunAll(newSplit);
        Assert.Equal([true, false], results.Select(r => r.UpToDate));
        Assert.Contains("param data.split: 1 -> 3", results[1].Reason);
        Assert.Equal((1, 2), (first.Runs, second.Runs));

        var newSeed = newSplit with { Synth = newSplit.Synth with { Seed = 9 } };
        RunAll(newSeed);
        Assert.Equal((2, 3), (first.Runs, second.Runs));
        Assert.Equal("seed 9 split 3", root.Read("out/second.txt"));
    }

    [Fact]
    public void Deleted_or_edited_output_makes_the_stage_rerun()
    {
        RunAll(new PipelineParams());
        File.Delete(root.Combine("out/first/part1.txt"));
        var plan = Runner(new PipelineParams()).Plan(first);
        Assert.False(plan.UpToDate);
        Assert.Contains("output out/first was modified", plan.Reason);
        RunAll(new PipelineParams());

        root.Write("out/second.txt", "tampered");
        plan = Runner(new PipelineParams()).Plan(second);
        Assert.Contains("output out/second.txt was modified", plan.Reason);
        Directory.Delete(root.Combine("out/first"), recursive: true);
        Assert.Contains("output out/first is missing", Runner(new PipelineParams()).Plan(first).Reason);
    }

    [Fact]
    public void Force_reruns_an_up_to_date_stage()
    {
        RunAll(new PipelineParams());
        var plan = Runner(new PipelineParams()).Plan(first, force: true);
        Assert.False(plan.UpToDate);
        Assert.Equal("forced", plan.Reason);
    }

    [Fact]
    public void Cancelled_run_leaves_no_output_and_the_next_run_resumes_and_completes()
    {
        using var cancellation = new CancellationTokenSource();
        first.MidRun = _ => cancellation.Cancel();
        var runner = Runner(new PipelineParams());

        Assert.ThrowsAny<OperationCanceledException>(() => runner.Run(runner.Plan(first), null, cancellation.Token));
        Assert.False(Directory.Exists(root.Combine("out/first")));
        Assert.False(File.Exists(root.Combine("out/.locks/first.json")));
        Assert.True(File.Exists(root.Combine("out/.work/first/first/part1.txt")), "the work folder is kept to resume from");

        string? resumedFrom = null;
        first.MidRun = output => resumedFrom ??= File.ReadAllText(Path.Combine(output, "part1.txt"));
        runner.Run(runner.Plan(first), null, CancellationToken.None);
        Assert.Equal("alpha", resumedFrom);
        Assert.Equal("seed 2", root.Read("out/first/part2.txt"));
        Assert.True(Runner(new PipelineParams()).Plan(first).UpToDate);
    }

    [Fact]
    public void Work_folder_of_another_key_is_discarded()
    {
        using var cancellation = new CancellationTokenSource();
        first.MidRun = output => { File.WriteAllText(Path.Combine(output, "stale.txt"), "old"); cancellation.Cancel(); };
        var runner = Runner(new PipelineParams());
        Assert.ThrowsAny<OperationCanceledException>(() => runner.Run(runner.Plan(first), null, cancellation.Token));

        first.MidRun = null;
        var other = new PipelineParams { Synth = new SyntheticOptions { Seed = 11 } };
        var otherRunner = Runner(other);
        otherRunner.Run(otherRunner.Plan(first), null, CancellationToken.None);
        Assert.False(File.Exists(root.Combine("out/first/stale.txt")));
    }

    [Fact]
    public void Failed_run_leaves_the_previous_outputs_and_lock_untouched()
    {
        RunAll(new PipelineParams());
        string lockText = root.Read("out/.locks/first.json");
        first.MidRun = _ => throw new IOException("disk full");
        var changed = new PipelineParams { Synth = new SyntheticOptions { Seed = 12 } };
        var runner = Runner(changed);

        Assert.Throws<IOException>(() => runner.Run(runner.Plan(first), null, CancellationToken.None));

        Assert.Equal("seed 2", root.Read("out/first/part2.txt"));
        Assert.Equal(lockText, root.Read("out/.locks/first.json"));
        Assert.True(Runner(new PipelineParams()).Plan(first).UpToDate);
    }

    [Fact]
    public void Corrupt_lock_makes_the_stage_rerun()
    {
        RunAll(new PipelineParams());
        root.Write("out/.locks/first.json", "{ not json");
        Assert.Contains("no lock", Runner(new PipelineParams()).Plan(first).Reason);
    }

    private StageRunner Runner(PipelineParams parameters, CodeIndex? code = null) => new(graph, new PipelineContext(root.Path, parameters), code);

    private List<StagePlan> RunAll(PipelineParams parameters)
    {
        var runner = Runner(parameters);
        var plans = new List<StagePlan>();
        foreach (var stage in graph.Stages)
        {
            var plan = runner.Plan(stage);
            if (!plan.UpToDate)
                runner.Run(plan, null, CancellationToken.None);
            plans.Add(plan);
        }
        return plans;
    }
}
