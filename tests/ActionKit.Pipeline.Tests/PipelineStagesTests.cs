using ActionKit.Data.Synthetic;
using ActionKit.Pipeline.Caching;
using ActionKit.Pipeline.Parameters;
using ActionKit.Pipeline.Stages;
using ActionKit.Pipeline.Workspace;

namespace ActionKit.Pipeline.Tests;

/// <summary>The real Synth, Convert and Build stages on a tiny synthetic dataset (8 classes x 2 videos x 2-3 frames).</summary>
public sealed class PipelineStagesTests : IDisposable
{
    private static readonly PipelineParams Tiny = new()
    {
        Synth = new SyntheticOptions { VideosPerClass = 2, ValVideosPerClass = 1, MinFrames = 2, MaxFrames = 3, Width = 16, Height = 16, Seed = 5 },
    };

    private readonly TempFolder root = new();

    public void Dispose() => root.Dispose();

    [Fact]
    public void Pipeline_builds_a_workspace_then_reruns_exactly_the_stages_below_a_change()
    {
        Assert.Equal(["synth", "convert", "build"], RanStages(Tiny));
        var data = WorkspaceData.Load(root.Combine("workspace", WorkspaceData.FileName));
        Assert.Equal(("data/cvat/synth-hmdb51-split1-rawframes/train", 8, "data/cvat/synth-hmdb51-split1-rawframes/valid", 8), (data.Train.Root, data.Train.Videos, data.Val.Root, data.Val.Videos));
        Assert.Equal(data.Val, data.Test);
        Assert.Equal(SyntheticDataset.ClassNames.Order(StringComparer.Ordinal), data.Labels);
        var template = WorkspaceTemplate.Load(root.Combine("workspace", WorkspaceTemplate.FileName));
        Assert.Equal("Custom_Action_Classification_X3D_CPU", template.Id);

        Assert.Empty(RanStages(Tiny));
        Assert.Equal(["build"], RanStages(Tiny with { Train = new TrainParams { Epochs = 2 } }));
        Assert.Equal(2, WorkspaceTemplate.Load(root.Combine("workspace", WorkspaceTemplate.FileName)).HyperParameters.Epochs);
        Assert.Equal(["build"], RanStages(Tiny with { Train = new TrainParams { Epochs = 2 }, Template = "X3D-XS" }));
        Assert.Equal(["synth", "convert", "build"], RanStages(Tiny with { Synth = Tiny.Synth with { Seed = 6 }, Train = new TrainParams { Epochs = 2 }, Template = "X3D-XS" }));
    }

    [Fact]
    public void Every_stage_that_reads_the_data_roots_has_build_upstream()
    {
        // data.yaml names the roots, not their contents; build's key holds the contents (through convert's), so a
        // stage that reads videos through data.yaml reruns when they change, even run alone (--exclusive).
        var context = new PipelineContext(root.Path, Tiny);
        string dataYaml = Path.Combine(context.Workspace, WorkspaceData.FileName);
        var readers = StageGraph.Default.Stages.Where(stage => stage.Declare(context).Inputs.Contains(dataYaml)).ToList();
        Assert.Equal(["train", "eval", "export", "optimize"], readers.Select(stage => stage.Name));
        Assert.All(readers, stage => Assert.Contains("build", stage.Declare(context).Upstream));
    }

    [Fact]
    public void Convert_reads_a_real_dataset_without_synth()
    {
        var synthetic = new PipelineContext(root.Path, Tiny);
        new StageRunner(StageGraph.Default, synthetic).Run(new StageRunner(StageGraph.Default, synthetic).Plan(new SynthStage()), null, CancellationToken.None);
        Directory.Move(root.Combine("data", "synth-hmdb51"), root.Combine("hmdb51"));

        var real = new PipelineContext(root.Path, Tiny with { Data = new DataParams { Root = "hmdb51" } });
        var convert = new StageRunner(StageGraph.Default, real).Plan(new ConvertStage());
        Assert.Empty(convert.Declaration.Upstream);
        Assert.Contains("hmdb51/hmdb51_train_split_1_rawframes.txt", convert.Fingerprint.Inputs.Keys);
        new StageRunner(StageGraph.Default, real).Run(convert, null, CancellationToken.None);
        Assert.Equal(8, Directory.GetDirectories(root.Combine("data", "cvat", "hmdb51-split1-rawframes", "valid")).Length);
    }

    [Fact]
    public void Datasets_convert_side_by_side_and_each_stays_up_to_date()
    {
        Assert.Equal(["synth", "convert", "build"], RanStages(Tiny));
        CopyFolder(root.Combine("data", "synth-hmdb51"), root.Combine("other"));
        File.AppendAllText(root.Combine("other", "hmdb51_val_split_1_rawframes.txt"), File.ReadAllLines(root.Combine("other", "hmdb51_train_split_1_rawframes.txt"))[0] + "\n");
        var other = Tiny with { Data = new DataParams { Root = "other" } };
        Assert.Equal(["convert", "build"], RanStages(other, "workspace-other"));

        foreach (var (parameters, workspace, folder, valid) in new[]
                 {
                     (Tiny, "workspace", "synth-hmdb51-split1-rawframes", 8),
                     (other, "workspace-other", "other-split1-rawframes", 9),
                 })
        {
            var context = new PipelineContext(root.Path, parameters, workspace);
            var plan = new StageRunner(StageGraph.Default, context).Plan(new ConvertStage());
            Assert.True(plan.UpToDate, $"{folder}: {plan.Reason}");
            Assert.Equal("up to date", plan.Reason);
            var data = WorkspaceData.Load(Path.Combine(context.Workspace, WorkspaceData.FileName));
            Assert.Equal(($"data/cvat/{folder}/train", $"data/cvat/{folder}/valid", valid), (data.Train.Root, data.Val.Root, data.Val.Videos));
        }
        Assert.Empty(RanStages(Tiny));
        Assert.Empty(RanStages(other, "workspace-other"));
    }

    private static void CopyFolder(string source, string destination)
    {
        foreach (string file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(destination, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    // The data stages and Build; training is covered by TrainingTests.
    private List<string> RanStages(PipelineParams parameters, string workspace = PipelineContext.DefaultWorkspace)
    {
        var runner = new StageRunner(StageGraph.Default, new PipelineContext(root.Path, parameters, workspace));
        var ran = new List<string>();
        foreach (var stage in StageGraph.Default.Stages.TakeWhile(stage => stage.Name != "train"))
        {
            var plan = runner.Plan(stage);
            if (plan.UpToDate)
                continue;
            runner.Run(plan, null, CancellationToken.None);
            ran.Add(stage.Name);
        }
        return ran;
    }
}
