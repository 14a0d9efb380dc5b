using System.Reflection;
using System.Text.RegularExpressions;
using ActionKit.Cli.Commands;
using Spectre.Console.Cli;

namespace ActionKit.Cli.Tests;

public sealed partial class CliTests : IDisposable
{
    // A synthetic dataset of 8 classes x 2 videos x 2-3 frames of 16x16: the whole pipeline runs in about a second.
    private const string TinyParams = """
        synth: { videos_per_class: 2, val_videos_per_class: 1, min_frames: 2, max_frames: 3, width: 16, height: 16, seed: 5 }
        """;

    private readonly TempFolder root = new();

    public void Dispose() => root.Dispose();

    [Fact]
    public void Find_prints_the_template_table()
    {
        var (exitCode, output) = CliRunner.Run("find", "--task", "action_classification");
        Assert.Equal(0, exitCode);
        string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches(@"^TASK\s+ID\s+NAME\s+BASE PATH$", lines[0].TrimEnd());
        Assert.Contains(lines, line => Regex.IsMatch(line, @"^action_classification\s+Custom_Action_Classification_X3D_CPU\s+X3D-CPU\s+src/ActionKit.Pipeline/Templates/x3d_cpu.yaml"));
        Assert.Equal(6, lines.Length);
    }

    [Fact]
    public void Unknown_task_or_option_fails_with_one_line_and_its_exit_code()
    {
        var (exitCode, output) = CliRunner.Run("find", "--task", "detection");
        Assert.Equal((ExitCodes.Configuration, "Template detection: no templates for this task; tasks: action_classification"), (exitCode, output.Trim()));

        (exitCode, output) = CliRunner.Run("build", "--bogus");
        Assert.Equal(ExitCodes.Usage, exitCode);
        Assert.Contains("Unknown option 'bogus'", output);
    }

    [Fact]
    public void Malformed_params_yaml_is_one_line_naming_file_and_line()
    {
        string paramsFile = root.Write("params.yaml", "data:\n  split: 1\n  spilt: 2\n");
        var (exitCode, output) = CliRunner.Run("convert", "--root", root.Path);
        Assert.Equal(ExitCodes.Configuration, exitCode);
        Assert.Equal($"{paramsFile}:3: unknown key 'spilt' in data; valid keys: root, split, source", output.Trim());
    }

    [Fact]
    public void Option_out_of_range_names_the_option()
    {
        var (exitCode, output) = CliRunner.Run("convert", "--root", root.Path, "--split", "4");
        Assert.Equal(ExitCodes.Configuration, exitCode);
        Assert.Equal("--split: data.split must be 1, 2 or 3, got 4", output.Trim());
    }

    [Fact]
    public void Bad_split_file_is_a_dataset_error_naming_file_and_line()
    {
        string data = Path.Combine(root.Path, "hmdb");
        root.Write("hmdb/label_map.txt", "wave\nclap\n");
        root.Write("hmdb/hmdb51_train_split_1_rawframes.txt", "wave/v1 3 0\nclap/v2 three 1\n");
        root.Write("hmdb/hmdb51_val_split_1_rawframes.txt", "wave/v3 3 0\n");
        root.Write("hmdb/rawframes/wave/v1/img_00001.jpg", "not a jpeg");

        var (exitCode, output) = CliRunner.Run("convert", "--root", root.Path, "--data", data);

        Assert.Equal(ExitCodes.Dataset, exitCode);
        Assert.StartsWith(Path.Combine(data, "hmdb51_train_split_1_rawframes.txt") + ":2: ", output.Trim().Split('\n')[^1]);
        Assert.DoesNotContain("   at ", output);
        Assert.False(Directory.Exists(Path.Combine(root.Path, "data", "cvat")));
    }

    [Fact]
    public void Build_before_convert_says_which_stage_to_run_first()
    {
        var (exitCode, output) = CliRunner.Run("build", "--root", root.Path);
        Assert.Equal(ExitCodes.Stage, exitCode);
        Assert.Contains("build: upstream stage convert has not run", output);
    }

    [Fact]
    public void Export_before_train_says_which_stage_to_run_first()
    {
        var (exitCode, output) = CliRunner.Run("export", "--root", root.Path);
        Assert.Equal(ExitCodes.Stage, exitCode);
        Assert.Contains("export: upstream stage train has not run", output);
    }

    [Fact]
    public void Optimizing_a_broken_or_missing_ir_is_a_model_error_naming_the_file()
    {
        string folder = Directory.CreateDirectory(Path.Combine(root.Path, "exported")).FullName;
        Pipeline.Training.LabelSchema.FromNames(["wave", "clap"]).Save(Path.Combine(folder, "label_schema.json"));
        Pipeline.Workspace.WorkspaceTemplate.Save(Pipeline.Templates.TemplateCatalog.Embedded.Find("X3D-CPU"), Path.Combine(folder, "template.yaml"));
        string xml = root.Write("exported/openvino.xml", "<net name=\"x3d\" version=\"11\"><layers>");
        root.Write("exported/openvino.bin", "");
        string[] roots = ["--train-data-roots", root.Path, "--test-data-roots", root.Path, "--save-model-to", Path.Combine(root.Path, "int8")];

        var (exitCode, output) = CliRunner.Run(["optimize", "--root", root.Path, "--load-weights", xml, .. roots]);
        Assert.Equal(ExitCodes.Model, exitCode);
        Assert.True(output.Trim().StartsWith(xml, StringComparison.Ordinal), output);
        Assert.DoesNotContain("   at ", output);

        (exitCode, output) = CliRunner.Run(["optimize", "--root", root.Path, "--load-weights", Path.Combine(folder, "missing.xml"), .. roots]);
        Assert.Equal(ExitCodes.Model, exitCode);
        Assert.Contains("missing.xml: model file not found", output);
        Assert.False(Directory.Exists(Path.Combine(root.Path, "int8")));
    }

    [Fact]
    public void Synth_is_skipped_for_a_real_dataset()
    {
        var (exitCode, output) = CliRunner.Run("synth", "--root", root.Path, "--data", "/datasets/hmdb51");
        Assert.Equal(0, exitCode);
        Assert.Contains("synth: skipped, the data root /datasets/hmdb51 is a real dataset", output);
    }

    [Fact]
    public void Stage_verbs_run_the_pipeline_then_report_it_up_to_date_and_force_reruns()
    {
        root.Write("params.yaml", TinyParams);
        foreach (string verb in new[] { "synth", "convert", "build" })
        {
            var (exitCode, output) = CliRunner.Run(verb, "--root", root.Path);
            Assert.True(exitCode == 0, output);
            Assert.Contains($"{verb}: running (no lock: never ran here)", output);
            Assert.Matches($"{verb}: done in [0-9.]+ s", output);
        }
        Assert.True(File.Exists(Path.Combine(root.Path, "workspace", "data.yaml")));

        foreach (string verb in new[] { "synth", "convert", "build" })
            Assert.Contains($"{verb}: up to date", CliRunner.Run(verb, "--root", root.Path).Output);
        Assert.Contains("build: running (forced)", CliRunner.Run("build", "--root", root.Path, "--force").Output);
        Assert.Contains("synth: running (param synth.seed: 5 -> 6)", CliRunner.Run("synth", "--root", root.Path, "--seed", "6").Output);
    }

    [Fact]
    public void Build_cake_forwards_exactly_the_options_of_the_stage_verbs()
    {
        string script = File.ReadAllText(Path.Combine(RepositoryRoot(), "build", "build.cake"));
        string options = script[script.IndexOf("var pipelineOptions", StringComparison.Ordinal)..script.IndexOf("var scriptOptions", StringComparison.Ordinal)];
        var cakeNames = CakeOption().Matches(options).Select(m => "--" + m.Groups[1].Value);
        var cliNames = typeof(PipelineSettings).GetProperties()
            .Select(p => p.GetCustomAttribute<CommandOptionAttribute>()!.LongNames[0])
            .Select(name => "--" + name)
            .Where(name => name != "--root");
        Assert.Equal(cliNames.Order(), cakeNames.Order());
    }

    internal static string RepositoryRoot()
    {
        var folder = new DirectoryInfo(AppContext.BaseDirectory);
        while (folder is not null && !File.Exists(Path.Combine(folder.FullName, "Pipeline.sln")))
            folder = folder.Parent;
        return folder?.FullName ?? throw new InvalidOperationException("Pipeline.sln not found above the test folder");
    }

    [GeneratedRegex("""\("([a-z-]+)", "[^"]*", "[^"]*"\)""")]
    private static partial Regex CakeOption();
}
