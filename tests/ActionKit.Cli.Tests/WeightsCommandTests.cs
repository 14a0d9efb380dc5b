using System.Security.Cryptography;
using ActionKit.Engine;
using ActionKit.Pipeline.Training;

namespace ActionKit.Cli.Tests;

/// <summary>import-weights, export-weights and --load-from on the PyTorch fixtures of ActionKit.Engine.Tests.</summary>
public sealed class WeightsCommandTests : IDisposable
{
    private readonly TempFolder root = new();

    public void Dispose() => root.Dispose();

    private static string Fixture(string name) =>
        Path.Combine(CliTests.RepositoryRoot(), "tests", "ActionKit.Engine.Tests", "Fixtures", "pytorch", name);

    [Fact]
    public void Import_writes_a_model_folder_that_loads_and_whose_weights_export_back()
    {
        string labels = root.Write("labels.txt", "wave\nclap\nrun\n");
        string folder = Path.Combine(root.Path, "imported");
        var (exitCode, output) = CliRunner.Run("import-weights", Fixture("pytorchvideo.zip.pth"), "--save-to", folder,
            "--template", Fixture("fixture_template.yaml"), "--labels", labels, "--root", root.Path);
        Assert.True(exitCode == 0, output);
        Assert.Matches(@"re-initialized\s+│\s+2\s+│\s+blocks\.5\.proj", output);
        Assert.Contains("mean 114.75 and std 57.375", output);
        Assert.Equal(["import.json", "label_schema.json", "template.yaml", "weights.safetensors"],
            Directory.GetFiles(folder).Select(Path.GetFileName).Order());
        using (var model = TrainedModel.Load(Path.Combine(folder, TrainedModel.WeightsFileName), new CpuBackend()))
        {
            Assert.Equal(["wave", "clap", "run"], model.Labels.Names);
            Assert.Equal([57.375, 57.375, 57.375], model.Template.Data.Std);
        }

        (exitCode, output) = CliRunner.Run("export-weights", "--names", "pytorchvideo", "--load-weights", Path.Combine(folder, TrainedModel.WeightsFileName));
        Assert.True(exitCode == 0, output);
        Assert.True(File.Exists(Path.Combine(folder, "weights.pytorchvideo.safetensors")));
        (exitCode, output) = CliRunner.Run("export-weights", "--names", "mmaction2", "--load-weights", Path.Combine(folder, TrainedModel.WeightsFileName));
        Assert.Equal(ExitCodes.Model, exitCode);
        Assert.Contains("export it under pytorchvideo names", output);
    }

    [Theory]
    [InlineData("evil_os_system.zip.pth", "os.system")]
    [InlineData("evil_eval.legacy.pth", "builtins.eval")]
    [InlineData("resnet.zip.pth", "backbone.conv1_s.conv.weight")]
    [InlineData("truncated.pth", "zip")]
    public void A_bad_checkpoint_exits_7_naming_file_and_cause_and_changes_nothing(string file, string cause)
    {
        string checkpoint = file == "truncated.pth" ? Truncated() : Fixture(file);
        root.Write("params.yaml", CliTests.TinyParams);
        foreach (string verb in new[] { "synth", "convert", "build" })
            Assert.Equal(0, CliRunner.Run(verb, "--root", root.Path).ExitCode);
        var before = Snapshot();

        var (exitCode, output) = CliRunner.Run("build", "--root", root.Path, "--load-from", checkpoint);
        Assert.Equal(ExitCodes.Model, exitCode);
        Assert.Contains(file, output);
        Assert.Contains(cause, output);
        Assert.DoesNotContain("   at ", output);

        (exitCode, output) = CliRunner.Run("import-weights", checkpoint, "--save-to", Path.Combine(root.Path, "imported"), "--root", root.Path);
        Assert.Equal(ExitCodes.Model, exitCode);
        Assert.Contains(cause, output);
        Assert.False(Directory.Exists(Path.Combine(root.Path, "imported")));
        Assert.Equal(before, Snapshot());
    }

    private string Truncated()
    {
        var bytes = File.ReadAllBytes(Fixture("mmaction2.zip.pth"));
        string path = Path.Combine(root.Path, "truncated.pth");
        File.WriteAllBytes(path, bytes[..(bytes.Length * 2 / 3)]);
        return path;
    }

    /// <summary>
    /// Every workspace file with its content hash: the outputs and the locks. The stage runner's scratch folder
    /// (.work/, kept for a rerun of the same key) is not part of the workspace's state.
    /// </summary>
    private Dictionary<string, string> Snapshot()
    {
        string workspace = Path.Combine(root.Path, "workspace");
        return Directory.GetFiles(workspace, "*", SearchOption.AllDirectories)
            .Where(path => !Path.GetRelativePath(workspace, path).StartsWith(".work", StringComparison.Ordinal))
            .ToDictionary(path => path, path => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path))));
    }
}
