using System.Xml.Linq;
using ActionKit.CodeHash;
using ActionKit.Data;
using ActionKit.Pipeline.Caching;
using ActionKit.Pipeline.Stages;

namespace ActionKit.Pipeline.Tests;

/// <summary>
/// Stage keys hold the code each stage runs (README, Caching): a real edit of ActionKit's sources, hashed as the build
/// hashes it, reruns exactly the stages that run the edited code; comments, layout, the checkout folder and a rebuild
/// change no key.
/// </summary>
public sealed class CodeKeyTests : IDisposable
{
    private static readonly string Repository = ParamsLoaderTests.FindRepositoryRoot();
    private readonly TempFolder root = new();

    public void Dispose() => root.Dispose();

    [Fact]
    public void A_kernel_edit_reruns_train_and_the_stages_below_it_but_not_synth_convert_or_build()
    {
        RecordWholePipeline();
        // The issue's edit: the sigmoid's denominator 1 + exp(-v) becomes 1.5 + exp(-v).
        var edited = Edit("ActionKit.Kernels", "Cpu/Activations.cs", "TSimd.Add(TSimd.Broadcast(1f), Simd.Exp", "TSimd.Add(TSimd.Broadcast(1.5f), Simd.Exp");

        var ran = RanStages(edited);
        Assert.Equal(["train", "eval", "export", "optimize"], ran.Select(plan => plan.Stage.Name));
        Assert.Equal("code ActionKit.Kernels changed", ran[0].Reason);
        Assert.Empty(RanStages(edited));
    }

    [Fact]
    public void An_onnx_writer_edit_reruns_export_and_optimize_and_leaves_train_up_to_date()
    {
        RecordWholePipeline();
        var edited = Edit("ActionKit.Export", "Onnx/OnnxWriter.cs", "ProducerName = \"ActionKit\"", "ProducerName = \"ActionKit (edited)\"");

        var ran = RanStages(edited);
        Assert.Equal(["export", "optimize"], ran.Select(plan => plan.Stage.Name));
        Assert.Equal("code ActionKit.Export changed", ran[0].Reason);
    }

    [Fact]
    public void A_trainer_edit_leaves_the_data_stages_and_an_evaluator_edit_leaves_train_up_to_date()
    {
        RecordWholePipeline();
        var trainer = Edit("ActionKit.Pipeline", "Training/Trainer.cs", "training: false", "training: true");
        Assert.Equal(["train", "eval", "export", "optimize"], RanStages(trainer).Select(plan => plan.Stage.Name));

        var evaluator = Edit("ActionKit.Pipeline", "Evaluation/Evaluator.cs", "public static", "internal static", trainer);
        Assert.Equal(["eval", "export", "optimize"], RanStages(evaluator).Select(plan => plan.Stage.Name));
    }

    [Fact]
    public void Comments_layout_and_line_endings_change_no_hash_but_a_token_does()
    {
        string source = File.ReadAllText(Path.Combine(Repository, ProjectFolder("ActionKit.Kernels"), "Cpu", "Activations.cs"));
        string hash = SourceHasher.HashCSharp(source);
        Assert.Equal(hash, SourceHasher.HashCSharp("// A new comment.\n" + source.Replace("\n", "\r\n")));
        Assert.Equal(hash, SourceHasher.HashCSharp(source.Replace("    ", "\t").Replace("/// ", "/// Reworded: ").Replace("// d(v", "// derivative: d(v")));
        Assert.NotEqual(hash, SourceHasher.HashCSharp(source.Replace("Broadcast(1f)", "Broadcast(1.5f)")));
        Assert.NotEqual(SourceHasher.HashCSharp("var s = \"a b\";"), SourceHasher.HashCSharp("var s = \"a  b\";"));
    }

    [Fact]
    public void Generated_hashes_name_files_relative_to_the_project_in_any_checkout_folder()
    {
        string linux = CodeHashGenerator.Attributes("/home/a/ActionKit/native/ActionKit.Kernels/",
        [
            ("/home/a/ActionKit/native/ActionKit.Kernels/Cpu/Activations.cs", "h1"),
            ("/home/a/ActionKit/native/ActionKit.Kernels/obj/Release/net10.0/ActionKit.Kernels.AssemblyInfo.cs", "commit 1"),
        ]);
        string windows = CodeHashGenerator.Attributes(@"D:\clone2\native\ActionKit.Kernels\",
        [
            (@"D:\clone2\native\ActionKit.Kernels\obj\Debug\net10.0\ActionKit.Kernels.AssemblyInfo.cs", "commit 2"),
            (@"D:\clone2\native\ActionKit.Kernels\Cpu\Activations.cs", "h1"),
        ]);
        Assert.Equal(linux, windows);
        Assert.Contains("AssemblyMetadata(\"ActionKit.CodeHash:Cpu/Activations.cs\", \"h1\")", linux);
        Assert.DoesNotContain("commit", linux);
    }

    [Fact]
    public void Each_assembly_carries_the_hashes_of_its_sources_in_this_checkout_and_its_package_versions()
    {
        // Keys are made of these alone, so a rebuild, or a clone in another folder, of the same sources keeps every key.
        var central = XDocument.Load(Path.Combine(Repository, "Directory.Packages.props")).Descendants("PackageVersion")
            .ToDictionary(item => (string)item.Attribute("Include")!, item => (string)item.Attribute("Version")!);
        var assemblies = CodeIndex.Loaded.Assemblies;
        Assert.Equal(["ActionKit.Data", "ActionKit.Engine", "ActionKit.Export", "ActionKit.Kernels", "ActionKit.Pipeline"], assemblies.Keys.Order());
        foreach (var (assembly, code) in assemblies)
        {
            string project = Path.Combine(Repository, ProjectFolder(assembly));
            var sourcesOnDisk = Directory.EnumerateFiles(project, "*.cs", SearchOption.AllDirectories)
                .Select(file => Path.GetRelativePath(project, file).Replace('\\', '/'))
                .Where(path => !path.StartsWith("bin/", StringComparison.Ordinal) && !path.StartsWith("obj/", StringComparison.Ordinal));
            Assert.Equal(sourcesOnDisk.Order(StringComparer.Ordinal), code.Sources.Keys.Where(path => path.EndsWith(".cs", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
            foreach (var (path, hash) in code.Sources)
            {
                string text = File.ReadAllText(Path.Combine(project, path));
                Assert.True(hash == (path.EndsWith(".cs", StringComparison.Ordinal) ? SourceHasher.HashCSharp(text) : SourceHasher.HashText(text)),
                    $"{assembly}/{path}: the compiled-in hash is not that of the file on disk");
            }
            Assert.All(code.Packages, package => Assert.Equal(central[package.Key], package.Value));
        }
        Assert.Contains("Onnx/onnx.proto", assemblies["ActionKit.Export"].Sources.Keys);
        Assert.Equal(["SixLabors.ImageSharp"], assemblies["ActionKit.Data"].Packages.Keys.Order());
    }

    /// <summary>The project folder of an ActionKit assembly, relative to the repository: src/NAME or native/NAME.</summary>
    internal static string ProjectFolder(string assembly) =>
        new[] { "src", "native" }.Select(folder => $"{folder}/{assembly}").Single(folder => File.Exists(Path.Combine(Repository, folder, assembly + ".csproj")));

    /// <summary><paramref name="code"/> (this process's by default) with one source file edited, hashed as the build hashes it.</summary>
    private static CodeIndex Edit(string assembly, string file, string before, string after, CodeIndex? code = null)
    {
        string source = File.ReadAllText(Path.Combine(Repository, ProjectFolder(assembly), file));
        Assert.Contains(before, source);
        var loaded = (code ?? CodeIndex.Loaded).Assemblies;
        var sources = new Dictionary<string, string>(loaded[assembly].Sources) { [file] = SourceHasher.HashCSharp(source.Replace(before, after)) };
        Assert.NotEqual(loaded[assembly].Sources[file], sources[file]);
        return new CodeIndex(new Dictionary<string, AssemblyCode>(loaded) { [assembly] = loaded[assembly] with { Sources = sources } });
    }

    /// <summary>
    /// Runs the real stage graph once with this process's code on placeholder inputs (every declared input a small
    /// file), so each stage has a lock, and checks that a second run finds all of them up to date.
    /// </summary>
    private void RecordWholePipeline()
    {
        var context = new PipelineContext(root.Path, new Parameters.PipelineParams());
        foreach (string input in StageGraph.Default.Stages.SelectMany(stage => stage.Declare(context).Inputs).Distinct())
        {
            if (!File.Exists(input) && !Directory.Exists(input))
                root.Write(Path.GetRelativePath(root.Path, input), "placeholder");
        }
        Assert.Equal(StageGraph.Default.Stages.Select(stage => stage.Name), RanStages(CodeIndex.Loaded).Select(plan => plan.Stage.Name));
        Assert.Empty(RanStages(CodeIndex.Loaded));
    }

    /// <summary>Plans every stage in order with <paramref name="code"/> and replays those out of date; returns their plans.</summary>
    private List<StagePlan> RanStages(CodeIndex code)
    {
        var graph = new StageGraph(StageGraph.Default.Stages.Select(stage => new ReplayStage(stage)));
        var runner = new StageRunner(graph, new PipelineContext(root.Path, new Parameters.PipelineParams()), code);
        var ran = new List<StagePlan>();
        foreach (var stage in graph.Stages)
        {
            var plan = runner.Plan(stage);
            if (plan.UpToDate)
                continue;
            runner.Run(plan, null, CancellationToken.None);
            ran.Add(plan);
        }
        return ran;
    }

    /// <summary>A real stage's declaration whose run copies its outputs as they are (a placeholder when missing), so the
    /// whole graph can be keyed and rerun in milliseconds.</summary>
    private sealed class ReplayStage(IStage stage) : IStage
    {
        public string Name => stage.Name;

        public StageDeclaration Declare(PipelineContext context) => stage.Declare(context);

        public void Run(PipelineContext context, string workFolder, IProgress<WorkProgress>? progress, CancellationToken cancellationToken)
        {
            var declaration = Declare(context);
            foreach (string output in declaration.Outputs)
                Copy(Path.Combine(declaration.Home, output), Path.Combine(workFolder, output));
        }

        private static void Copy(string source, string target)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            if (Directory.Exists(source))
            {
                foreach (string entry in Directory.EnumerateFileSystemEntries(source))
                    Copy(entry, Path.Combine(target, Path.GetFileName(entry)));
            }
            else if (File.Exists(source))
                File.Copy(source, target);
            else
                File.WriteAllText(target, "placeholder");
        }
    }
}
