using ActionKit.Data.Hmdb51;
using ActionKit.Pipeline.Parameters;

namespace ActionKit.Pipeline.Tests;

public sealed class ParamsLoaderTests : IDisposable
{
    private readonly TempFolder root = new();

    public void Dispose() => root.Dispose();

    [Fact]
    public void Repository_params_yaml_holds_the_documented_defaults()
    {
        string repository = FindRepositoryRoot();
        var loaded = ParamsLoader.Load(Path.Combine(repository, ParamsLoader.FileName), []);
        var defaults = new PipelineParams();
        Assert.Equal(defaults.Synth, loaded.Synth);
        Assert.Equal(defaults.Data, loaded.Data);
        Assert.Equal(defaults.Train, loaded.Train);
        Assert.Equal((defaults.Template, defaults.Device), (loaded.Template, loaded.Device));
    }

    [Fact]
    public void Missing_file_gives_defaults_and_partial_file_keeps_the_rest()
    {
        Assert.Equal(new PipelineParams().Data, ParamsLoader.Load(root.Combine("none.yaml"), []).Data);
        string path = root.Write("params.yaml", "synth:\n  seed: 3\ndata:\n  source: videos\ndevice: cpu\n");
        var loaded = ParamsLoader.Load(path, []);
        Assert.Equal(3UL, loaded.Synth.Seed);
        Assert.Equal(80, loaded.Synth.VideosPerClass);
        Assert.Equal(Hmdb51Source.Videos, loaded.Data.Source);
        Assert.Equal(DeviceChoice.Cpu, loaded.Device);
    }

    [Theory]
    [InlineData("synth:\n  seed: 3\n  sede: 4\n", 3, "unknown key 'sede' in synth; valid keys: videos_per_class")]
    [InlineData("synth:\n  seed: 3\nbogus: 1\n", 3, "unknown key 'bogus' at the top level")]
    [InlineData("data:\n  split: two\n", 2, "data.split must be an integer, got 'two'")]
    [InlineData("data:\n  root: a\n   split: 1\n", 3, "")]
    [InlineData("data:\n  source: frames\n", 2, "data.source must be one of rawframes, videos, got 'frames'")]
    [InlineData("data:\n  split: 4\n", 2, "data.split must be 1, 2 or 3, got 4")]
    [InlineData("\n\nsynth:\n  min_frames: 30\n  max_frames: 20\n", 5, "synth.max_frames must be at least min_frames (30), got 20")]
    [InlineData("- a\n- b\n", 1, "the top level must be a mapping")]
    public void Bad_params_name_the_file_and_line(string yaml, int line, string message)
    {
        string path = root.Write("params.yaml", yaml);
        var error = Assert.Throws<ParamsException>(() => ParamsLoader.Load(path, []));
        Assert.Equal(path, error.Origin);
        Assert.Equal(line, error.Line);
        Assert.StartsWith($"{path}:{line}: ", error.Message);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void Overrides_replace_file_values_and_their_errors_name_the_option()
    {
        string path = root.Write("params.yaml", "data:\n  split: 2\n");
        var loaded = ParamsLoader.Load(path, [new("data.split", 3, "--split"), new("data.source", Hmdb51Source.Videos, "--source"), new("train.epochs", 2, "--epochs")]);
        Assert.Equal((3, Hmdb51Source.Videos, 2), (loaded.Data.Split, loaded.Data.Source, loaded.Train.Epochs));

        var error = Assert.Throws<ParamsException>(() => ParamsLoader.Load(path, [new("train.epochs", 0, "--epochs")]));
        Assert.Equal("--epochs: train.epochs must be positive, got 0", error.Message);
    }

    [Fact]
    public void Select_reads_a_key_or_a_whole_section()
    {
        var values = new PipelineParams();
        Assert.Equal("1", ParamsLoader.Select(values, "data.split")!.ToJsonString());
        Assert.Equal("\"rawframes\"", ParamsLoader.Select(values, "data.source")!.ToJsonString());
        Assert.Null(ParamsLoader.Select(values, "train.epochs"));
        Assert.Contains("\"videos_per_class\":80", ParamsLoader.Select(values, "synth")!.ToJsonString());
        Assert.Throws<ArgumentException>(() => ParamsLoader.Select(values, "synth.nope"));
    }

    internal static string FindRepositoryRoot()
    {
        var folder = new DirectoryInfo(AppContext.BaseDirectory);
        while (folder is not null && !File.Exists(Path.Combine(folder.FullName, "Pipeline.sln")))
            folder = folder.Parent;
        return folder?.FullName ?? throw new InvalidOperationException("Pipeline.sln not found above the test folder");
    }
}
